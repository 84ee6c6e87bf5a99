import type { AccessPolicy, ExplainEntry } from '@authz/protocol';
import { pruneEmpty } from './context/prune.js';
import { compilePolicy, type PolicyLinks } from './policy.js';

/** What `POST /$test-policy` answers (DESIGN §7). */
export interface TestPolicyResult {
  result: boolean;
  applicable: boolean;
  explain: ExplainEntry[];
}

/**
 * `POST /$test-policy`: validates `resource` as a PUT would (throws PolicyConfigError), never
 * stores it, and evaluates it against `context` (any JSON object in the request-context shape;
 * empty values are removed as for a real request). `applicable` follows `link` (the context's
 * `user.id`, `client.id`, `operation.id`) and `roleName` (names in `role`: Role resources or
 * strings); `result` is false when the policy is not applicable.
 */
export function testPolicy(resource: AccessPolicy, context: Record<string, unknown>): TestPolicyResult {
  // An unsaved policy has no id: name it so explain entries (and nested `p.and[0]`) read well.
  const policy = compilePolicy(resource.id ? resource : { ...resource, id: 'test-policy' });
  const ctx = (pruneEmpty(context) as Record<string, unknown> | undefined) ?? {};
  const id = policy.id;
  const notApplicable = whyNotApplicable(policy.links, policy.roleName, ctx);
  if (notApplicable !== undefined) {
    return {
      result: false,
      applicable: false,
      explain: [{ policy: id, engine: policy.engine, result: false, detail: notApplicable }],
    };
  }
  const result = policy.evaluate(ctx);
  const entry = { ...policy.explain(ctx), policy: id, result };
  return { result, applicable: true, explain: [entry] };
}

function whyNotApplicable(
  links: PolicyLinks | undefined,
  roleName: string | undefined,
  ctx: Record<string, unknown>,
): string | undefined {
  if (links !== undefined) {
    const user = idOf(ctx.user);
    const client = idOf(ctx.client);
    const operation = idOf(ctx.operation);
    const linked =
      (user !== undefined && links.users.includes(user)) ||
      (client !== undefined && links.clients.includes(client)) ||
      (operation !== undefined && links.operations.includes(operation));
    if (!linked) return 'not applicable: link names no user, client or operation of this context';
  }
  if (roleName !== undefined && !roleNames(ctx.role).has(roleName)) {
    return `not applicable: the context holds no role ${roleName}`;
  }
  return undefined;
}

function idOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const id = (value as Record<string, unknown>).id;
  return typeof id === 'string' ? id : undefined;
}

function roleNames(role: unknown): Set<string> {
  const names = new Set<string>();
  for (const item of Array.isArray(role) ? role : [role]) {
    if (typeof item === 'string') names.add(item);
    else if (
      item !== null &&
      typeof item === 'object' &&
      typeof (item as Record<string, unknown>).name === 'string'
    ) {
      names.add((item as Record<string, unknown>).name as string);
    }
  }
  return names;
}
