/** Most query parameters kept per request: the rest are ignored, bounding per-request work. */
export const MAX_QUERY_PARAMS = 256;

/**
 * Query string → params as Aidbox shows them to policies: each name once, a repeated name as a
 * list in order of appearance. Names and values are form-decoded (`+` is a space); a malformed
 * percent-escape is kept verbatim rather than failing the request.
 */
export function parseQuery(query: string): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  if (query === '') return params;
  let count = 0;
  let start = 0;
  while (start <= query.length && count < MAX_QUERY_PARAMS) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const split = eq === -1 || eq > end ? end : eq;
      const name = decode(query.slice(start, split));
      const value = split === end ? '' : decode(query.slice(split + 1, end));
      if (name !== '' && name !== '__proto__') add(params, name, value);
      count++;
    }
    start = end + 1;
  }
  return params;
}

function add(params: Record<string, unknown>, name: string, value: string): void {
  // Own keys only: `toString` or `constructor` must not find Object.prototype's.
  const prior = Object.hasOwn(params, name) ? params[name] : undefined;
  if (prior === undefined) params[name] = value;
  else if (Array.isArray(prior)) prior.push(value);
  else params[name] = [prior, value];
}

function decode(text: string): string {
  if (text.indexOf('%') === -1 && text.indexOf('+') === -1) return text;
  const spaced = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
