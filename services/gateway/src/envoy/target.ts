/**
 * The §10 request-target rules the Envoy entry points apply before a check: `uri` must be
 * origin-form and unambiguous, or the request is refused with 400 rather than normalised.
 *
 * Kept in one module so the canonical request model of @authz/protocol replaces it in one swap.
 */

// Dot segments, raw or percent-encoded, in any case ("/./", "/../", "/%2e%2E/", a trailing "/..").
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;
// Encoded "/" or "\", raw "\", ";" path parameters, NUL and control characters raw or encoded.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point (§10)
const AMBIGUOUS_PATH = /%2f|%5c|\\|;|%[01][0-9a-f]|%7f|[\x00-\x1f\x7f]/i;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point (§10)
const CONTROL_IN_QUERY = /%0[0ad]|[\x00-\x1f\x7f]/i;
const BAD_PERCENT = /%(?![0-9a-f]{2})/i;

/** Why `uri` is not an acceptable request target, or undefined when it is. */
export function targetProblem(uri: string): string | undefined {
  if (!uri.startsWith('/')) return `the request target ${quote(uri)} is not origin-form (/path?query)`;
  if (uri.includes('#')) return `the request target ${quote(uri)} carries a fragment`;
  const q = uri.indexOf('?');
  const path = q < 0 ? uri : uri.slice(0, q);
  const query = q < 0 ? '' : uri.slice(q + 1);
  if (BAD_PERCENT.test(uri)) return `the request target ${quote(uri)} has malformed percent-encoding`;
  if (path.includes('//')) return `the request path ${quote(path)} has an empty segment (//)`;
  if (DOT_SEGMENT.test(path)) return `the request path ${quote(path)} has a dot-segment (. or ..)`;
  if (AMBIGUOUS_PATH.test(path))
    return `the request path ${quote(path)} has an encoded slash, a backslash, a ";" parameter or a control character`;
  if (CONTROL_IN_QUERY.test(query)) return 'the query string carries NUL, CR, LF or a control character';
  return undefined;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}
