import type { CheckRequest } from '@authz/protocol';
import type { OperationRef } from '../fhir/resolve.js';
import { pruneEmpty } from './prune.js';
import { parseQuery } from './query.js';
import { parseFhirRoute } from './route.js';

/** The request as policies see it (Aidbox shape, DESIGN §6), empty values removed. */
export type RequestContext = Record<string, unknown>;

/**
 * Who the request was authenticated as, in the shapes policies match on. These objects are
 * treated as immutable: a User, Role list or Client is shared by many requests, so its pruned
 * form is computed once and remembered; `jwt` / `token` too when `claimsShared` says so.
 */
export interface ContextIdentity {
  /** verified JWT claims */
  jwt?: Record<string, unknown>;
  /** RFC 7662 introspection response */
  token?: Record<string, unknown>;
  /** the User resource */
  user?: Record<string, unknown>;
  /** the Role resources granted to the user */
  role?: Record<string, unknown>[];
  /** the Client resource */
  client?: Record<string, unknown>;
  /** `jwt` / `token` come from a token cache and recur: remember their pruned form too */
  claimsShared?: boolean;
}

/**
 * CheckRequest + identity → the request context of DESIGN §6: `request-method` (lower case),
 * `scheme`, `uri` (path only), `query-string`, `params` (query parameters, a repeated one as a
 * list, plus `resource/type`, `resource/id`, `resource/vid` from the FHIR route), `headers`
 * (lower-case names), `remote-addr`, `body`, `resource` (`body` of a POST/PUT/PATCH), `operation`
 * (the Aidbox Operation the request resolved to, DESIGN §12), `client-cert` (`{sha256}`, DESIGN §13),
 * `jwt`, `token`, `user`, `role`, `client`.
 * Empty values are removed recursively (Aidbox does, so `present?` and `required` mean "has a value").
 *
 * Runs per request: one pass over the URI and headers, no copies of unchanged identity objects.
 *
 * @example buildRequestContext({ method: 'GET', uri: '/fhir/Patient/1?_elements=id' })
 * // { 'request-method': 'get', uri: '/fhir/Patient/1', 'query-string': '_elements=id',
 * //   params: { _elements: 'id', 'resource/type': 'Patient', 'resource/id': '1' } }
 */
export function buildRequestContext(
  request: CheckRequest,
  identity?: ContextIdentity,
  operation?: OperationRef,
): RequestContext {
  const { path, query } = splitUri(request.uri);
  const ctx: RequestContext = { 'request-method': request.method.toLowerCase() };
  put(ctx, 'scheme', request.scheme);
  put(ctx, 'uri', path);
  put(ctx, 'query-string', query);
  put(ctx, 'params', routeParams(path, query));
  if (request.headers !== undefined) put(ctx, 'headers', lowerCaseHeaders(request.headers));
  put(ctx, 'remote-addr', request.remote_addr);
  put(ctx, 'body', pruneEmpty(request.body));
  // DESIGN §12: `resource` is the incoming resource of a write (Aidbox #4), the same value as `body`.
  if (ctx.body !== undefined && WRITES.has(ctx['request-method'] as string)) ctx.resource = ctx.body;
  if (operation !== undefined) ctx.operation = operation;
  // DESIGN §13: the client certificate a trusted TLS-terminating proxy saw, like cnf x5t#S256.
  if (request.client_cert_sha256) ctx['client-cert'] = { sha256: request.client_cert_sha256 };
  if (identity !== undefined) {
    const claims = identity.claimsShared ? prunedOnce : pruneEmpty;
    put(ctx, 'jwt', claims(identity.jwt));
    put(ctx, 'token', claims(identity.token));
    put(ctx, 'user', prunedOnce(identity.user));
    put(ctx, 'role', prunedOnce(identity.role));
    put(ctx, 'client', prunedOnce(identity.client));
  }
  return ctx;
}

const WRITES = new Set(['post', 'put', 'patch']);

const pruned = new WeakMap<object, unknown>();

/** {@link pruneEmpty} of an identity object, computed once per object (see ContextIdentity). */
function prunedOnce(value: object | undefined): unknown {
  if (value === undefined) return undefined;
  if (pruned.has(value)) return pruned.get(value);
  const result = pruneEmpty(value);
  pruned.set(value, result);
  return result;
}

function put(ctx: RequestContext, key: string, value: unknown): void {
  if (value !== undefined && value !== null && value !== '') ctx[key] = value;
}

/** Path and query of a request target; an absolute-form target (`https://host/p`) keeps its path. */
function splitUri(uri: string): { path: string; query: string } {
  let start = 0;
  if (uri.charCodeAt(0) !== 47 /* '/' */) {
    const scheme = uri.indexOf('://');
    if (scheme !== -1) {
      const slash = uri.indexOf('/', scheme + 3);
      start = slash === -1 ? uri.length : slash;
    }
  }
  let end = uri.indexOf('#', start);
  if (end === -1) end = uri.length;
  const q = uri.indexOf('?', start);
  if (q === -1 || q > end) return { path: uri.slice(start, end), query: '' };
  return { path: uri.slice(start, q), query: uri.slice(q + 1, end) };
}

function routeParams(path: string, query: string): Record<string, unknown> | undefined {
  const params = parseQuery(query);
  const route = parseFhirRoute(path);
  // Route parameters win over query parameters of the same name: they are what the server routes on.
  if (route.type !== undefined) params['resource/type'] = route.type;
  if (route.id !== undefined) params['resource/id'] = route.id;
  if (route.vid !== undefined) params['resource/vid'] = route.vid;
  return pruneEmpty(params) as Record<string, unknown> | undefined;
}

function lowerCaseHeaders(headers: Record<string, string | string[]>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let kept = 0;
  for (const name in headers) {
    const raw = headers[name];
    if (raw === undefined || !Object.hasOwn(headers, name)) continue;
    const lower = name.toLowerCase();
    if (lower === '__proto__') continue;
    // RFC 9110 §5.3: repeated fields combine into one comma-separated value (cookies with "; ").
    const value = Array.isArray(raw)
      ? raw.filter((v) => v !== '').join(lower === 'cookie' ? '; ' : ', ')
      : raw;
    if (value === '') continue;
    // Own keys only: a header named `constructor` must not find Object.prototype's.
    const prior = Object.hasOwn(out, lower) ? out[lower] : undefined;
    out[lower] = prior === undefined ? value : `${prior}, ${value}`;
    kept++;
  }
  return kept === 0 ? undefined : out;
}
