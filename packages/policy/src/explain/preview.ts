/** Longest string shown in explain output; longer ones are cut with an ellipsis. */
const MAX_STRING = 200;
const MAX_ITEMS = 20;
const MAX_DEPTH = 3;

// Header values that carry credentials (RFC 9110 §11.6, RFC 6265): explain never repeats them.
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key']);

/** Whether the context path names a value explain must not repeat (credentials in headers). */
export function isSecretPath(path: readonly (string | number)[]): boolean {
  return path[0] === 'headers' && typeof path[1] === 'string' && SECRET_HEADERS.has(path[1]);
}

/**
 * A bounded copy of a context value for explain output: strings cut at 200 characters, at most 20
 * items per list or map, three levels deep, credential headers replaced by `[redacted]`.
 */
export function preview(value: unknown, path: readonly (string | number)[] = [], depth = 0): unknown {
  if (isSecretPath(path)) return '[redacted]';
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return Array.isArray(value) ? '[…]' : '{…}';
  if (Array.isArray(value)) {
    return value.slice(0, MAX_ITEMS).map((item, i) => preview(item, [...path, i], depth + 1));
  }
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const key of Object.keys(value)) {
    if (n++ === MAX_ITEMS) {
      out['…'] = `${Object.keys(value).length - MAX_ITEMS} more`;
      break;
    }
    // defineProperty: a `__proto__` key of the request stays a key instead of becoming the prototype.
    Object.defineProperty(out, key, {
      value: preview((value as Record<string, unknown>)[key], [...path, key], depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
