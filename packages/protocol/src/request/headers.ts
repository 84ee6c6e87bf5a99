import { MAX_CHECK_HEADERS } from '../limits.js';
import { type RequestRefusal, refuse } from './refusal.js';

/** Request headers with lower-case names; a repeated header is a list of its values. */
export type RequestHeaders = Record<string, string | string[]>;

/** Identity headers a gateway sets on what it forwards; any client copy is dropped (DESIGN §8, §10). */
export const RESERVED_HEADER_PREFIX = 'x-authz-';

/** Headers that would let the method served differ from the method checked (DESIGN §10). */
export const METHOD_OVERRIDE_HEADERS: ReadonlySet<string> = new Set([
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

/**
 * True for a header name a client may never send: one that, lower-cased with `_` read as `-`,
 * starts with `x-authz-`. CGI, WSGI, Rack and PHP expose `X_Authz_User` and `X-Authz-User` alike
 * as `HTTP_X_AUTHZ_USER`, so both spellings are the reserved header.
 */
export function isReservedHeader(lowerName: string): boolean {
  if (lowerName.length < RESERVED_HEADER_PREFIX.length || lowerName.charCodeAt(0) !== 120 /* x */)
    return false;
  return lowerName.slice(0, RESERVED_HEADER_PREFIX.length).replaceAll('_', '-') === RESERVED_HEADER_PREFIX;
}

/**
 * The canonical form of a request's headers (DESIGN §10): names lower-cased (spellings that
 * differ only in case are one header, their values a list), reserved `x-authz-*` names (any
 * `_`/`-` spelling) dropped, `__proto__` dropped. Refused: more than {@link MAX_CHECK_HEADERS}
 * names (431), more than one `Authorization`, any method-override header.
 *
 * Returns `headers` itself when it is already canonical (the common case on the worker's hot path).
 *
 * @example canonicalHeaders({ Authorization: 'Bearer t', X_Authz_User: 'root' })
 * // { authorization: 'Bearer t' }
 */
export function canonicalHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): RequestHeaders | RequestRefusal {
  let out: RequestHeaders | undefined;
  let count = 0;
  for (const name in headers) {
    const value = headers[name];
    if (!Object.hasOwn(headers, name)) continue;
    if (++count > MAX_CHECK_HEADERS) {
      return refuse('header_too_many', `the request carries more than ${MAX_CHECK_HEADERS} headers`, 431);
    }
    const lower = name.toLowerCase();
    const keep = value !== undefined && lower !== '__proto__' && !isReservedHeader(lower);
    if (out === undefined) {
      if (keep && lower === name) continue;
      out = copyUntil(headers, name);
    }
    if (!keep) continue;
    const prior = Object.hasOwn(out, lower) ? out[lower] : undefined;
    out[lower] = prior === undefined ? value : ([] as string[]).concat(prior, value);
  }
  const result = out ?? (headers as RequestHeaders);
  return ambiguity(result) ?? result;
}

function copyUntil(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  stop: string,
): RequestHeaders {
  const out: RequestHeaders = {};
  for (const name in headers) {
    if (name === stop) break;
    if (Object.hasOwn(headers, name)) out[name] = headers[name] as string | string[];
  }
  return out;
}

/** DESIGN §10 "ambiguity is refused": two credentials, or a method other than the one checked. */
function ambiguity(headers: RequestHeaders): RequestRefusal | undefined {
  const authorization = headers.authorization;
  if (Array.isArray(authorization) && authorization.length > 1) {
    return refuse('header_ambiguous', 'the request carries more than one Authorization header');
  }
  for (const name of METHOD_OVERRIDE_HEADERS) {
    if (headers[name] !== undefined) {
      return refuse(
        'method_override',
        `the ${name} header is refused: the method checked is the method served`,
      );
    }
  }
  // `_` spellings of the override headers reach CGI-style servers too.
  for (const name in headers) {
    if (name.indexOf('_') !== -1 && METHOD_OVERRIDE_HEADERS.has(name.replaceAll('_', '-'))) {
      return refuse(
        'method_override',
        `the ${name} header is refused: the method checked is the method served`,
      );
    }
  }
  return undefined;
}
