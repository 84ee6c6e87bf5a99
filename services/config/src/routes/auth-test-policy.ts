import { buildRequestContext, type ContextIdentity, compileOperationResolver } from '@authz/policy';
import { MAX_RESOURCE_BYTES, type Reference, referenceId } from '@authz/protocol';
import type { ConfigDeps } from '../deps.js';
import { readParsedBody } from '../http/body.js';
import { invalidResource } from '../http/errors.js';
import type { Route } from '../http/router.js';
import { isPlainObject } from '../validate/resource.js';
import { evaluatePolicy } from './test-policy.js';

type Issue = Parameters<typeof invalidResource>[0][number];

/**
 * `POST /auth/test-policy` (DESIGN §12): Aidbox's body — `policy`, `request` (`uri`,
 * `request-method`, `headers`, `body`), `user` or `user-id`, `client` or `client-id` — turned
 * into the request context a worker would build (the Operation resolved from the request, a JWT
 * in `headers.authorization` decoded without verification, the User and Client read from the
 * store, the Client without its secret, the user's Roles as a worker grants them — DESIGN §6 step
 * 4, as Aidbox's test-policy does), then answered as `/$test-policy`.
 */
export function authTestPolicyRoute(deps: ConfigDeps, fhirBase: string): Route {
  const operations = compileOperationResolver({ fhirBase });
  return {
    method: 'POST',
    path: '/auth/test-policy',
    async handle(ctx) {
      const { value } = await readParsedBody(ctx.req, MAX_RESOURCE_BYTES, ['json', 'yaml']);
      const issues: Issue[] = [];
      const body = isPlainObject(value) ? value : {};
      const policy = isPlainObject(body.policy) ? body.policy : undefined;
      if (!policy)
        issues.push({
          code: 'required',
          diagnostics: 'must be an AccessPolicy object',
          expression: 'policy',
        });
      const request = isPlainObject(body.request) ? body.request : {};
      const uri = typeof request.uri === 'string' && request.uri.startsWith('/') ? request.uri : undefined;
      if (!uri)
        issues.push({
          code: 'required',
          diagnostics: 'must be a path like /fhir/Patient',
          expression: 'request.uri',
        });
      const method = typeof request['request-method'] === 'string' ? request['request-method'] : 'get';
      const headers = stringHeaders(request.headers, issues);
      const identity: ContextIdentity = {};
      const jwt = decodeJwt(headers.authorization, issues);
      if (jwt) identity.jwt = jwt;
      identity.user = await resource(deps, 'User', body.user, body['user-id'], 'user', issues);
      const userId = identity.user?.id;
      if (typeof userId === 'string' && userId !== '') identity.role = await rolesOf(deps, userId);
      const client = await resource(deps, 'Client', body.client, body['client-id'], 'client', issues);
      if (client) {
        const { secret: _secret, ...visible } = client;
        identity.client = visible;
      }
      if (issues.length > 0 || !policy || !uri) throw invalidResource(issues);
      const operation = operations.resolveTarget(method, uri);
      const context = buildRequestContext(
        { method: method.toUpperCase(), uri, headers, body: request.body },
        identity,
        operation?.ref,
      );
      return { status: 200, body: evaluatePolicy(deps, policy, context) };
    },
  };
}

function stringHeaders(raw: unknown, issues: Issue[]): Record<string, string> {
  const headers: Record<string, string> = {};
  if (raw === undefined) return headers;
  if (!isPlainObject(raw)) {
    issues.push({
      code: 'value',
      diagnostics: 'must be a map of header names to strings',
      expression: 'request.headers',
    });
    return headers;
  }
  for (const [name, v] of Object.entries(raw)) {
    if (typeof v === 'string') headers[name.toLowerCase()] = v;
    else
      issues.push({ code: 'value', diagnostics: 'must be a string', expression: `request.headers.${name}` });
  }
  return headers;
}

/** The claims of a Bearer JWT, decoded without verification (Aidbox's test-policy does so). */
function decodeJwt(authorization: string | undefined, issues: Issue[]): Record<string, unknown> | undefined {
  const m = authorization === undefined ? null : /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!m) return undefined;
  const parts = (m[1] as string).split('.');
  if (parts.length !== 3) return undefined; // an opaque token: no claims to show
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'));
    if (isPlainObject(claims)) return claims;
  } catch {}
  issues.push({
    code: 'value',
    diagnostics: 'the JWT payload is not a base64url JSON object',
    expression: 'request.headers.authorization',
  });
  return undefined;
}

/** Most Roles read to find a user's; with more, the answer could miss one, so it is refused. */
const MAX_ROLES = 100_000;

/** The Role resources whose `user` references `userId` (as a worker indexes them), in id order. */
async function rolesOf(deps: ConfigDeps, userId: string): Promise<Record<string, unknown>[]> {
  const { total, items } = await deps.store.list('Role', MAX_ROLES);
  if (total > items.length) {
    throw invalidResource([
      {
        code: 'too-long',
        diagnostics: `more than ${MAX_ROLES} Roles: the user's cannot all be read`,
        expression: 'user-id',
      },
    ]);
  }
  return items
    .map((stored) => stored.resource)
    .filter((role) => isPlainObject(role.user) && referenceId(role.user as Reference, 'User') === userId);
}

/** `user` / `client` given inline, or read from the store by `user-id` / `client-id`. */
async function resource(
  deps: ConfigDeps,
  type: 'User' | 'Client',
  inline: unknown,
  id: unknown,
  field: string,
  issues: Issue[],
): Promise<Record<string, unknown> | undefined> {
  if (inline !== undefined) {
    if (isPlainObject(inline)) return inline;
    issues.push({ code: 'value', diagnostics: `must be a ${type} object`, expression: field });
    return undefined;
  }
  if (id === undefined) return undefined;
  const stored = typeof id === 'string' ? await deps.store.get(type, id).catch(() => undefined) : undefined;
  if (!stored)
    issues.push({
      code: 'not-found',
      diagnostics: `${type}/${String(id)} does not exist`,
      expression: `${field}-id`,
    });
  return stored?.resource;
}
