/**
 * One pass over JSON text that finds what `JSON.parse` silently accepts but parsers disagree on:
 * duplicate object keys (compared decoded: `"a"` and `"\u0061"` are one key) and nesting deeper
 * than `maxDepth`. Returns a problem sentence, or `undefined` when the text has neither. Syntax is
 * left to `JSON.parse`, which runs next; on text that is not JSON this may stop early, never loop.
 */
export function scanJson(text: string, maxDepth: number): string | undefined {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    switch (c) {
      case 123: // {
      case 91: // [
        if (stack.length >= maxDepth) return `it nests deeper than ${maxDepth} levels`;
        stack.push(c === 123 ? new Set() : null);
        expectKey = c === 123;
        break;
      case 125: // }
      case 93: // ]
        stack.pop();
        expectKey = false;
        break;
      case 44: // ,
        expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
        break;
      case 34: {
        // "
        const end = stringEnd(text, i);
        if (end < 0) return undefined;
        if (expectKey) {
          const keys = stack[stack.length - 1] as Set<string>;
          const key = keyOf(text, i, end);
          if (key === undefined) return undefined;
          if (keys.has(key))
            return `the key "${key.length > 64 ? `${key.slice(0, 61)}...` : key}" appears twice in one object`;
          keys.add(key);
          expectKey = false;
        }
        i = end;
        break;
      }
    }
  }
  return undefined;
}

/**
 * Index of the quote closing the string opened at `start`, or -1. Jumps from quote to quote
 * (native indexOf: most of a FHIR body is string content); a quote preceded by an odd number of
 * backslashes is escaped.
 */
function stringEnd(text: string, start: number): number {
  let at = start;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at === -1) return -1;
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === 92) slashes++;
    if (slashes % 2 === 0) return at;
  }
}

function keyOf(text: string, start: number, end: number): string | undefined {
  const raw = text.slice(start + 1, end);
  if (raw.indexOf('\\') === -1) return raw;
  try {
    return JSON.parse(text.slice(start, end + 1)) as string;
  } catch {
    return undefined;
  }
}
