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
 * Headers that would let the target served differ from the target checked (DESIGN §10, as the
 * method overrides): IIS URL Rewrite, Zend Framework 1 and Symfony before 2.8.44 route by them.
 */
export const TARGET_OVERRIDE_HEADERS: ReadonlySet<string> = new Set(['x-original-url', 'x-rewrite-url']);

/**
 * True for a header name a client may never send: one that, lower-cased with `_` read as `-`,
 * starts with `x-authz-`. CGI, WSGI, Rack and PHP expose `X_Authz_User` and `X-Authz-User` alike
 * as `HTTP_X_AUTHZ_USER`, so both spellings are the reserved header.
 */
export function isReservedHeader(lowerName: string): boolean {
  // Character by character: every header of every request passes here, most starting with `x`.
  if (lowerName.length < RESERVED_HEADER_PREFIX.length) return false;
  for (let i = 0; i < RESERVED_HEADER_PREFIX.length; i++) {
    const c = lowerName.charCodeAt(i);
    if (
      c !== RESERVED_HEADER_PREFIX.charCodeAt(i) &&
      !(c === 95 /* _ */ && i === 1) &&
      !(c === 95 && i === 7)
    )
      return false;
  }
  return true;
}

/**
 * Whether a name spells a method- or target-override header (any `_`/`-` spelling: CGI-style
 * servers read both), and which.
 */
function overrideHeader(lowerName: string): 'method' | 'target' | undefined {
  const name = lowerName.indexOf('_') === -1 ? lowerName : lowerName.replaceAll('_', '-');
  if (METHOD_OVERRIDE_HEADERS.has(name)) return 'method';
  return TARGET_OVERRIDE_HEADERS.has(name) ? 'target' : undefined;
}

/**
 * The canonical form of a request's headers (DESIGN §10): names lower-cased (spellings that
 * differ only in case are one header, their values a list), reserved `x-authz-*` names (any
 * `_`/`-` spelling) dropped, `__proto__` dropped, and the names `drop` picks (an entry point's
 * hop-by-hop or untrusted forwarding headers) left out. Refused: more than
 * {@link MAX_CHECK_HEADERS} names (431), more than one `Authorization` or `Host`, any
 * method- or target-override header.
 *
 * Returns `headers` itself when it is already canonical (the common case on the worker's hot path).
 *
 * @example canonicalHeaders({ Authorization: 'Bearer t', X_Authz_User: 'root' })
 * // { authorization: 'Bearer t' }
 */
export function canonicalHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  drop?: (lowerName: string) => boolean,
): RequestHeaders | RequestRefusal {
  let out: RequestHeaders | undefined;
  let count = 0;
  // Ambiguity is judged on every header sent, dropped or not: a forward-auth proxy passes the
  // client's headers upstream whatever the check left out.
  let credentials = 0;
  let hosts = 0;
  let override: string | undefined;
  let overrides: 'method' | 'target' | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (!Object.hasOwn(headers, name)) continue;
    if (++count > MAX_CHECK_HEADERS) {
      return refuse('header_too_many', `the request carries more than ${MAX_CHECK_HEADERS} headers`, 431);
    }
    const lower = name.toLowerCase();
    const sent = value !== undefined && lower !== '__proto__' && !isReservedHeader(lower);
    if (sent && lower === 'authorization') credentials += Array.isArray(value) ? value.length : 1;
    else if (sent && lower === 'host') hosts += Array.isArray(value) ? value.length : 1;
    if (sent && override === undefined) {
      overrides = overrideHeader(lower);
      if (overrides !== undefined) override = lower;
    }
    const keep = sent && drop?.(lower) !== true;
    if (out === undefined) {
      if (keep && lower === name) continue;
      out = copyUntil(headers, name);
    }
    if (!keep) continue;
    const prior = Object.hasOwn(out, lower) ? out[lower] : undefined;
    out[lower] = prior === undefined ? value : ([] as string[]).concat(prior, value);
  }
  // DESIGN §10 "ambiguity is refused": two credentials, or a method other than the one checked.
  if (credentials > 1) {
    return refuse('header_ambiguous', 'the request carries more than one Authorization header');
  }
  if (hosts > 1) {
    // RFC 9112 §3.2: a server must refuse it; which one names the resource is anyone's guess.
    return refuse('header_ambiguous', 'the request carries more than one Host header');
  }
  if (override !== undefined) {
    return overrides === 'method'
      ? refuse(
          'method_override',
          `the ${override} header is refused: the method checked is the method served`,
        )
      : refuse(
          'target_override',
          `the ${override} header is refused: some servers route by it, and the target checked is the target served`,
        );
  }
  return out ?? (headers as RequestHeaders);
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
