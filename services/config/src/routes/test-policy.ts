import { MAX_RESOURCE_BYTES } from '@authz/protocol';
import type { ConfigDeps } from '../deps.js';
import { readParsedBody } from '../http/body.js';
import { ApiError, invalidResource } from '../http/errors.js';
import type { Route } from '../http/router.js';
import { checkResource, isPlainObject } from '../validate/resource.js';

/** Id given to a policy under test that has none, so explain entries name something. */
export const TEST_POLICY_ID = 'test-policy';

/**
 * `POST /$test-policy` (DESIGN §7, Aidbox's `/auth/test-policy` in spirit): evaluates one
 * AccessPolicy, validated exactly as on PUT and never stored, against a request context.
 * Body: `{policy: <AccessPolicy>, context: <request context>}` as JSON or YAML.
 */
export function testPolicyRoute(deps: ConfigDeps): Route {
  return {
    method: 'POST',
    path: '/$test-policy',
    async handle(ctx) {
      const { value } = await readParsedBody(ctx.req, MAX_RESOURCE_BYTES, ['json', 'yaml']);
      const { policy, context } = splitBody(value);
      return { status: 200, body: evaluatePolicy(deps, policy, context) };
    },
  };
}

/**
 * Validates `policy` exactly as a PUT would (422 naming the path; never stored) and evaluates
 * it against `context`: the answer of `/$test-policy` and Aidbox's `/auth/test-policy`.
 */
export function evaluatePolicy(
  deps: ConfigDeps,
  policy: Record<string, unknown>,
  context: Record<string, unknown>,
): unknown {
  if (policy.resourceType !== undefined && policy.resourceType !== 'AccessPolicy') {
    throw invalidResource([
      { code: 'value', diagnostics: 'must be AccessPolicy', expression: 'AccessPolicy.resourceType' },
    ]);
  }
  const resource = { ...policy, resourceType: 'AccessPolicy', id: policy.id ?? TEST_POLICY_ID };
  try {
    checkResource('AccessPolicy', resource, deps.engines);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'ERR_RESOURCE_INVALID') {
      deps.metrics.validationFailures.inc({ type: 'AccessPolicy' });
    }
    throw err;
  }
  return deps.engines.testPolicy(resource as never, context);
}

function splitBody(value: unknown): { policy: Record<string, unknown>; context: Record<string, unknown> } {
  const issues = [];
  const body = isPlainObject(value) ? value : undefined;
  if (!body) {
    issues.push({ code: 'structure' as const, diagnostics: 'the body must be {policy: …, context: …}' });
  } else {
    if (!isPlainObject(body.policy)) {
      issues.push({
        code: 'required' as const,
        diagnostics: 'must be an AccessPolicy object',
        expression: 'policy',
      });
    }
    if (!isPlainObject(body.context)) {
      issues.push({
        code: 'required' as const,
        diagnostics: 'must be a request context object',
        expression: 'context',
      });
    }
  }
  if (issues.length > 0 || !body) throw invalidResource(issues);
  return { policy: body.policy as Record<string, unknown>, context: body.context as Record<string, unknown> };
}
