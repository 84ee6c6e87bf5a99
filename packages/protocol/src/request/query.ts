import { MAX_QUERY_PARAMS } from '../limits.js';
import { clip, hexByte } from './encoding.js';
import { type RefusalCode, type RequestRefusal, refuse } from './refusal.js';

/** Decoded query parameters: each name once, a repeated name as a list in order of appearance. */
export type QueryParams = Record<string, string | string[]>;

/**
 * Route parameters policies read from `params` (DESIGN §6). They come only from the path: a query
 * parameter of one of these names is refused, so it can never stand in for the route (§10).
 */
export const ROUTE_PARAMS: ReadonlySet<string> = new Set(['resource/type', 'resource/id', 'resource/vid']);

/** RFC 6750 §2.3's query parameter for a bearer token: refused, the token goes in `Authorization`. */
export const ACCESS_TOKEN_PARAM = 'access_token';

/**
 * Where parameters are read from: a refusal's reason names it, with its codes and status. The
 * query and a form body (DESIGN §10) go through one parser, so they cannot disagree.
 */
export interface ParameterSource {
  /** how a reason names the source: `query`, `form body` */
  readonly name: string;
  readonly codes: {
    readonly encoding: RefusalCode;
    readonly character: RefusalCode;
    readonly route: RefusalCode;
    readonly tooMany: RefusalCode;
    readonly credential: RefusalCode;
  };
  /** the status of "more than MAX_QUERY_PARAMS parameters": 414 for a target, 413 for a body */
  readonly tooManyStatus: 413 | 414;
}

/** The query string of a request target. */
export const QUERY_SOURCE: ParameterSource = {
  name: 'query',
  codes: {
    encoding: 'query_encoding',
    character: 'query_character',
    route: 'query_route_parameter',
    tooMany: 'query_too_many',
    credential: 'query_credential',
  },
  tooManyStatus: 414,
};

/**
 * Parses a query string (without `?`) the way Aidbox shows it to policies: names and values
 * form-decoded (`+` is a space). Refused, never truncated or guessed (DESIGN §10): more than
 * {@link MAX_QUERY_PARAMS} parameters (414), malformed or non-UTF-8 percent-escapes, NUL/CR/LF
 * encoded (raw ones are refused with the target), a raw `;` (some parsers split on it), a name
 * that is a route parameter or `__proto__` or has a bracket (`a[]` is `a` to qs, Rack and PHP), and
 * `access_token` (a credential the check does not read).
 *
 * @example parseQueryParams('name=a&name=b&_count=10') // { name: ['a', 'b'], _count: '10' }
 */
export function parseQueryParams(
  query: string,
  source: ParameterSource = QUERY_SOURCE,
): QueryParams | RequestRefusal {
  const params: QueryParams = {};
  if (query === '') return params;
  // DESIGN §10 "ambiguity is refused": parsers disagree on whether a raw `;` separates parameters
  // (HTML 4.01 §B.2.2 asked servers to; Python's parse_qs before 3.9.2, Go before 1.17, Rack
  // before 3 and Haskell's http-types do; servlets, Ring and Node do not), so `code=x;_revinclude=…`
  // would hide a parameter from the policy. An encoded `%3B` is unambiguous.
  if (query.indexOf(';') !== -1) {
    return refuse(
      source.codes.character,
      `the ${source.name} contains a raw ";", which some servers read as a parameter separator; percent-encode it as %3B`,
    );
  }
  let count = 0;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (end > start) {
      if (++count > MAX_QUERY_PARAMS) {
        return refuse(
          source.codes.tooMany,
          `the ${source.name} has more than ${MAX_QUERY_PARAMS} parameters`,
          source.tooManyStatus,
        );
      }
      const eq = query.indexOf('=', start);
      const split = eq === -1 || eq > end ? end : eq;
      const name = decode(query.slice(start, split), source);
      if (typeof name !== 'string') return name;
      const value = split === end ? '' : decode(query.slice(split + 1, end), source);
      if (typeof value !== 'string') return value;
      if (ROUTE_PARAMS.has(name)) {
        return refuse(
          source.codes.route,
          `the ${source.name} parameter "${name}" is a route parameter; it comes only from the path`,
        );
      }
      if (name === '__proto__')
        return refuse(source.codes.character, `the ${source.name} parameter name "__proto__" is refused`);
      // DESIGN §10: nested-parameter parsers (qs, Express's default; Rack; PHP) read `a[]` and
      // `a[0]` as `a`, so `_revinclude[]=…` would pass a `_revinclude: nil?` policy. No FHIR
      // search parameter name has a bracket.
      if (name.indexOf('[') !== -1 || name.indexOf(']') !== -1) {
        return refuse(
          source.codes.character,
          `the ${source.name} parameter name "${clip(name)}" has a bracket, which qs (Express), Rack and PHP read as another parameter's`,
        );
      }
      // DESIGN §10 "ambiguity is refused": a second way to send a credential, which the check
      // does not read and an upstream might (RFC 6750 §2.3 in the query, §2.2 in a form body).
      if (name === ACCESS_TOKEN_PARAM) {
        return refuse(
          source.codes.credential,
          `the ${source.name} carries an access_token (RFC 6750 §2.2, §2.3); send the token in the Authorization header, the only credential the check reads`,
        );
      }
      if (name !== '') addParam(params, name, value);
    }
    start = end + 1;
  }
  return params;
}

/**
 * Adds one parameter: a name seen before becomes a list in order of appearance, as a repeated
 * query parameter does (a form body's parameters join the query's the same way).
 */
export function addParam(params: QueryParams, name: string, value: string): void {
  // Own keys only: `toString` or `constructor` must not find Object.prototype's.
  const prior = Object.hasOwn(params, name) ? params[name] : undefined;
  if (prior === undefined) params[name] = value;
  else if (Array.isArray(prior)) prior.push(value);
  else params[name] = [prior, value];
}

function decode(text: string, source: ParameterSource): string | RequestRefusal {
  if (text.indexOf('%') === -1) return text.indexOf('+') === -1 ? text : text.replace(/\+/g, ' ');
  for (let i = text.indexOf('%'); i !== -1; i = text.indexOf('%', i + 1)) {
    const byte = hexByte(text, i + 1);
    if (byte < 0)
      return refuse(
        source.codes.encoding,
        `the ${source.name} part "${clip(text)}" has malformed percent-encoding`,
      );
    // DESIGN §10: NUL, CR and LF are refused in the query, encoded too.
    if (byte === 0 || byte === 0x0a || byte === 0x0d) {
      return refuse(source.codes.character, `the ${source.name} part "${clip(text)}" encodes NUL, CR, LF`);
    }
  }
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return refuse(
      source.codes.encoding,
      `the ${source.name} part "${clip(text)}" does not percent-decode to UTF-8`,
    );
  }
}
