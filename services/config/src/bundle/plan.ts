import { isResourceType, type ResourceType, type TokenIntrospector } from '@authz/protocol';
import type { ConfigDeps } from '../deps.js';
import { ApiError, type ApiIssue, invalidResource } from '../http/errors.js';
import { resourceIdParam } from '../http/resource-http.js';
import { HASHED_FIELDS, isHashedSecret, protectSecrets, verifySecret } from '../secrets.js';
import { isPlainObject, prepareResource } from '../validate/resource.js';

/** Most resources one plan (a `POST /$validate` Bundle, an init bundle) may hold. */
export const MAX_PLAN_ENTRIES = 1000;

/** What applying one resource would do. */
export type PlanAction = 'create' | 'replace' | 'unchanged';

/** One resource of a plan: validated, with what is stored now. */
export interface PlanEntry {
  type: ResourceType;
  id: string;
  action: PlanAction;
  /** The resource as it would be stored (validated and normalised; secrets not yet hashed). */
  resource: Record<string, unknown>;
  /** KV revision now stored (replace, unchanged): writes are conditional on it. */
  revision?: number;
}

/**
 * Validates every resource exactly as `PUT /{type}/{id}` would, and says for each whether it
 * would be created, replaced or left unchanged. Nothing is written. Throws one 422 listing
 * every problem of every resource, each issue's expression prefixed with the resource's place in
 * the list (`Bundle.entry[3].resource.matcho.uri`), so a client can name file and field.
 */
export async function planResources(deps: ConfigDeps, resources: unknown[]): Promise<PlanEntry[]> {
  if (resources.length > MAX_PLAN_ENTRIES) {
    throw new ApiError('ERR_BAD_REQUEST', `at most ${MAX_PLAN_ENTRIES} resources may be validated at once`);
  }
  const issues: ApiIssue[] = [];
  const prepared: Array<{ type: ResourceType; id: string; resource: Record<string, unknown>; at: string }> =
    [];
  const seen = new Map<string, number>();
  resources.forEach((value, i) => {
    const at = `Bundle.entry[${i}].resource`;
    try {
      const { type, id } = identify(value, at);
      const key = `${type}/${id}`;
      const first = seen.get(key);
      if (first !== undefined) {
        issues.push({
          code: 'duplicate',
          diagnostics: `${key} is also entry ${first}`,
          expression: `${at}.id`,
        });
        return;
      }
      seen.set(key, i);
      prepared.push({ type, id, resource: prepareResource(type, id, value, deps.engines), at });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status >= 500) throw err;
      for (const issue of err.issues) issues.push({ ...issue, expression: relocate(at, issue.expression) });
    }
  });
  // DESIGN §11 fetch safety, the part that needs DNS: as on PUT, a host resolving to a forbidden address.
  const resolved = await Promise.all(
    prepared.map(async (p) =>
      p.type === 'TokenIntrospector'
        ? (await deps.engines.resolvedHostIssues(p.resource as TokenIntrospector)).map((issue) => ({
            ...issue,
            expression: relocate(p.at, issue.expression),
          }))
        : [],
    ),
  );
  issues.push(...resolved.flat());
  if (issues.length > 0) throw invalidResource(issues);
  return Promise.all(prepared.map((p) => planOne(deps, p.type, p.id, p.resource)));
}

/** Writes the create/replace entries of a plan, each conditional on what the plan saw. */
export async function writePlan(deps: ConfigDeps, plan: PlanEntry[]): Promise<number> {
  let written = 0;
  for (const entry of plan) {
    if (entry.action === 'unchanged') continue;
    const resource = { ...entry.resource };
    await protectSecrets(entry.type, resource);
    const condition = entry.action === 'create' ? { noneMatch: true } : { match: [entry.revision as number] };
    await deps.store.put(entry.type, entry.id, resource, condition);
    deps.metrics.kvWrites.inc({ type: entry.type, op: 'put' });
    written++;
  }
  return written;
}

async function planOne(
  deps: ConfigDeps,
  type: ResourceType,
  id: string,
  resource: Record<string, unknown>,
): Promise<PlanEntry> {
  const stored = await deps.store.get(type, id);
  if (!stored) return { type, id, action: 'create', resource };
  const same = await sameResource(type, resource, stored.resource);
  return { type, id, action: same ? 'unchanged' : 'replace', resource, revision: stored.revision };
}

/**
 * Whether `wanted` equals what is stored. A plain secret matches its stored scrypt hash when it
 * verifies (so re-applying a file with `Client.secret` in it is "unchanged", not a rewrite).
 */
async function sameResource(
  type: ResourceType,
  wanted: Record<string, unknown>,
  stored: Record<string, unknown>,
): Promise<boolean> {
  const field = HASHED_FIELDS[type];
  const a = { ...wanted };
  const b = { ...stored };
  if (field !== undefined && typeof a[field] === 'string' && typeof b[field] === 'string') {
    const plain = a[field] as string;
    const hash = b[field] as string;
    if (!isHashedSecret(plain) && isHashedSecret(hash) && !(await verifySecret(plain, hash))) return false;
    if (!isHashedSecret(plain)) a[field] = hash;
  }
  return canonical(a) === canonical(b);
}

/** JSON with object keys sorted, so key order never reads as a change. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isPlainObject(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
  );
}

function identify(value: unknown, at: string): { type: ResourceType; id: string } {
  if (!isPlainObject(value)) {
    throw invalidResource([
      { code: 'structure', diagnostics: 'must be a resource (an object)', expression: at },
    ]);
  }
  const type = value.resourceType;
  if (typeof type !== 'string' || !isResourceType(type)) {
    throw invalidResource([
      {
        code: 'value',
        diagnostics: `resourceType must be one of TokenIntrospector, AccessPolicy, User, Client, Role; got ${JSON.stringify(type)}`,
        expression: `${at}.resourceType`,
      },
    ]);
  }
  if (value.id === undefined) {
    throw invalidResource([{ code: 'required', diagnostics: 'id is required here', expression: `${at}.id` }]);
  }
  try {
    return { type, id: resourceIdParam(String(value.id)) };
  } catch (err) {
    throw invalidResource([{ code: 'value', diagnostics: (err as Error).message, expression: `${at}.id` }]);
  }
}

/** `AccessPolicy.matcho.uri` → `Bundle.entry[3].resource.matcho.uri`. */
function relocate(at: string, expression: string | undefined): string {
  if (!expression) return at;
  if (expression.startsWith('Bundle.entry[')) return expression;
  const dot = expression.search(/[.[]/);
  return dot < 0 ? at : `${at}${expression.slice(dot)}`;
}
