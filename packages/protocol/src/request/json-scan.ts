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

/**
 * {@link scanJson}'s answer for text that `JSON.parse` has already turned into `parsed`, at a
 * fraction of its cost when the answer is "no problem" (the common case): the text's keys are
 * counted, every occurrence, without being decoded or stored, and compared with the keys of the
 * parsed value. `JSON.parse` keeps one key of a repeated name (`"a"` and `"\u0061"` are one name),
 * so the counts differ exactly when a key repeats. Nesting is bounded in the same pass. When
 * either check fails, {@link scanJson} runs to name the problem.
 *
 * @example checkParsedJson('{"a":1,"a":2}', { a: 2 }, 64) // 'the key "a" appears twice in one object'
 */
export function checkParsedJson(text: string, parsed: unknown, maxDepth: number): string | undefined {
  const inText = countTextKeys(text, maxDepth);
  if (inText >= 0 && inText === countParsedKeys(parsed)) return undefined;
  // Fail closed even if the scan, unlike the counts, saw nothing.
  return scanJson(text, maxDepth) ?? 'its keys could not be told apart';
}

/**
 * Keys (`"name":`) in JSON text, every occurrence counted, or -1 when it nests deeper than
 * `maxDepth`. Only meaningful for text `JSON.parse` accepts.
 */
function countTextKeys(text: string, maxDepth: number): number {
  // inObject[d]: whether the container open at depth d is an object (its strings alternate key, value).
  const inObject = new Uint8Array(maxDepth + 1);
  let depth = 0;
  let keys = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // "
      const end = stringEnd(text, i);
      if (end < 0) return -1;
      if (expectKey) {
        keys++;
        expectKey = false;
      }
      i = end;
    } else if (c === 123 || c === 91) {
      // { [
      if (depth >= maxDepth) return -1;
      depth++;
      inObject[depth] = c === 123 ? 1 : 0;
      expectKey = c === 123;
    } else if (c === 44) {
      // ,
      expectKey = inObject[depth] === 1;
    } else if (c === 125 || c === 93) {
      // } ]
      depth--;
      expectKey = false;
    }
  }
  return keys;
}

/** Own keys of every object in a parsed JSON value (depth already bounded by the text scan). */
function countParsedKeys(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) n += countParsedKeys(value[i]);
    return n;
  }
  // Own enumerable members only (JSON.parse makes nothing else), `__proto__` among them.
  const members = Object.values(value);
  n += members.length;
  for (let i = 0; i < members.length; i++) {
    const member = members[i];
    if (member !== null && typeof member === 'object') n += countParsedKeys(member);
  }
  return n;
}
