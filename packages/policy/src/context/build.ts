import {
  addParam,
  type CanonicalCheck,
  type CheckRequest,
  canonicalCheck,
  isRefusal,
  type QueryParams,
  ROUTE_PARAMS,
} from '@authz/protocol';
import type { OperationRef } from '../fhir/resolve.js';
import { PARTIAL_MAP, type Partiality } from './partial.js';
import { pruneEmpty } from './prune.js';
import { routeOfSegments } from './route.js';

/**
 * What `body` and `resource` hold in the context of a request whose body policies cannot see
 * (`body_unavailable`, DESIGN §10). Matcho evaluates anything read through it as unknown and
 * json-schema rules that read `body` or `resource` evaluate false: no policy allows by it.
 */
export const BODY_UNAVAILABLE: unique symbol = Symbol('body unavailable');

/** The request as policies see it (Aidbox shape, DESIGN §6), empty values removed. */
export type RequestContext = Record<string, unknown>;

/**
 * Claims in the form a request context holds them (empty values removed), made once by
 * {@link contextClaims} and kept by whoever owns the token's state (the worker keeps it on the
 * verifier's cache entry), so a token that recurs is not pruned again on every request.
 */
export class ContextClaims {
  private constructor(
    /** the pruned claims; `undefined` when nothing was left */
    readonly value: unknown,
  ) {}

  /** @internal see {@link contextClaims} */
  static of(claims: Record<string, unknown>): ContextClaims {
    return new ContextClaims(pruneEmpty(claims));
  }
}

/**
 * The context form of `claims`, for a caller that sees the same claims again (a cached token).
 *
 * @example
 * const claims = contextClaims(verified.claims); // once per cached token
 * buildRequestContext(request, { jwt: claims }); // every request of that token
 */
export function contextClaims(claims: Record<string, unknown>): ContextClaims {
  return ContextClaims.of(claims);
}

/**
 * Who the request was authenticated as, in the shapes policies match on. These objects are
 * treated as immutable: a User, Role list or Client is shared by many requests, so its pruned
 * form is computed once and remembered. `jwt` / `token` are pruned per request, unless given
 * as {@link ContextClaims} (pruned once by their owner).
 */
export interface ContextIdentity {
  /** verified JWT claims */
  jwt?: Record<string, unknown> | ContextClaims;
  /** RFC 7662 introspection response */
  token?: Record<string, unknown> | ContextClaims;
  /** the User resource */
  user?: Record<string, unknown>;
  /** the Role resources granted to the user */
  role?: Record<string, unknown>[];
  /** the Client resource */
  client?: Record<string, unknown>;
}

/**
 * CheckRequest + identity → the request context of DESIGN §6: `request-method` (lower case),
 * `scheme`, `uri` (path only), `query-string`, `params` (query parameters and a POST's form-body
 * fields after them, a repeated name as a list, plus `resource/type`, `resource/id`,
 * `resource/vid` from the FHIR route; a {@link PARTIAL_MAP} of the route parameters alone when
 * the parameters may be in a body nobody showed the worker), `headers`
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
  canonical: CanonicalCheck = canonicalOrThrow(request),
): RequestContext {
  const { target } = canonical;
  const ctx: RequestContext = { 'request-method': request.method.toLowerCase() };
  put(ctx, 'scheme', request.scheme);
  put(ctx, 'uri', target.path);
  put(ctx, 'query-string', target.query);
  if (canonical.paramsUnseen !== undefined)
    ctx.params = partialParams(target.segments, canonical.paramsUnseen);
  else if (canonical.formParams !== undefined)
    put(ctx, 'params', routeParams(target.segments, mergedParams(target.params, canonical.formParams)));
  else put(ctx, 'params', routeParams(target.segments, target.params));
  put(ctx, 'headers', lowerCaseHeaders(canonical.headers));
  put(ctx, 'remote-addr', request.remote_addr);
  if (canonical.bodyUnavailable !== undefined) {
    ctx.body = BODY_UNAVAILABLE;
    ctx.resource = BODY_UNAVAILABLE;
  } else {
    put(ctx, 'body', pruneEmpty(request.body));
    // DESIGN §12: `resource` is the incoming resource of a write (Aidbox #4), the same value as `body`.
    if (ctx.body !== undefined && WRITES.has(ctx['request-method'] as string)) ctx.resource = ctx.body;
  }
  if (operation !== undefined) ctx.operation = operation;
  // DESIGN §13: the client certificate a trusted TLS-terminating proxy saw, like cnf x5t#S256.
  if (request.client_cert_sha256) ctx['client-cert'] = { sha256: request.client_cert_sha256 };
  if (identity !== undefined) {
    put(ctx, 'jwt', claimsOf(identity.jwt));
    put(ctx, 'token', claimsOf(identity.token));
    put(ctx, 'user', prunedOnce(identity.user));
    put(ctx, 'role', prunedOnce(identity.role));
    put(ctx, 'client', prunedOnce(identity.client));
  }
  return ctx;
}

const WRITES = new Set(['post', 'put', 'patch']);

function claimsOf(claims: Record<string, unknown> | ContextClaims | undefined): unknown {
  return claims instanceof ContextClaims ? claims.value : pruneEmpty(claims);
}

// Users, Roles and Clients are configuration objects shared by every request that names them.
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

/** The canonical form of a request not checked before: callers on the decision path check first. */
function canonicalOrThrow(request: CheckRequest): CanonicalCheck {
  const checked = canonicalCheck(request);
  if (isRefusal(checked)) throw new Error(checked.reason);
  return checked;
}

function routeParams(segments: readonly string[], query: QueryParams): Record<string, unknown> | undefined {
  const route = routeOfSegments(segments);
  // Copied key by key: spreading the query and then adding these keys cost 3 µs a check in V8.
  const params: Record<string, unknown> = {};
  let kept = 0;
  for (const name in query) {
    if (!Object.hasOwn(query, name)) continue;
    const value = pruneEmpty(query[name]);
    if (value === undefined) continue;
    params[name] = value;
    kept++;
  }
  // Route parameters come only from the path: the query cannot carry these names (DESIGN §10).
  if (route.type !== undefined) {
    params['resource/type'] = route.type;
    kept++;
  }
  if (route.id !== undefined) params['resource/id'] = route.id;
  if (route.vid !== undefined) params['resource/vid'] = route.vid;
  return kept === 0 ? undefined : params;
}

/**
 * The query's parameters, then the form body's (servlet containers and Ring list them in this
 * order): a name in both, or repeated, is a list, as a repeated query parameter is.
 */
function mergedParams(query: QueryParams, form: QueryParams): QueryParams {
  const merged: QueryParams = {};
  for (const params of [query, form]) {
    for (const name in params) {
      if (!Object.hasOwn(params, name)) continue;
      const value = params[name] as string | string[];
      if (Array.isArray(value)) for (const item of value) addParam(merged, name, item);
      else addParam(merged, name, value);
    }
  }
  return merged;
}

/** `params` when only the route is known: every other key is unseen (DESIGN §10). */
function partialParams(segments: readonly string[], reason: string): Record<string, unknown> {
  const route = routeOfSegments(segments);
  const params: Record<string, unknown> = {};
  if (route.type !== undefined) params['resource/type'] = route.type;
  if (route.id !== undefined) params['resource/id'] = route.id;
  if (route.vid !== undefined) params['resource/vid'] = route.vid;
  const partiality: Partiality = { known: ROUTE_PARAMS, reason };
  Object.defineProperty(params, PARTIAL_MAP, { value: partiality });
  return params;
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
