/**
 * Rewrites a pattern so it matches case-insensitively without the `i` flag, which V8's linear
 * engine does not support: each letter `a` becomes `[aA]`, and inside a class each letter and
 * same-case letter range gains its other case. Escapes naming a code (`\x41`, `\u0041`, `\cA`) and
 * ranges mixing letters with other characters are refused: they cannot be folded faithfully.
 */
export function foldCase(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (ch === '\\') {
      out += escapeAt(source, i);
      i += 2;
    } else if (ch === '(' && source[i + 1] === '?') {
      const header = groupHeader(source, i);
      out += header;
      i += header.length;
    } else if (ch === '[') {
      const end = classEnd(source, i);
      out += foldClass(source.slice(i + 1, end));
      i = end + 1;
    } else {
      out += swapCase(ch) === ch ? ch : `[${ch}${swapCase(ch)}]`;
      i++;
    }
  }
  return out;
}

/** `(?:`, `(?=`, `(?<=`, `(?<name>` … copied verbatim: group syntax is not text to fold. */
function groupHeader(source: string, open: number): string {
  if (source[open + 2] === '<' && source[open + 3] !== '=' && source[open + 3] !== '!') {
    const close = source.indexOf('>', open);
    if (close !== -1) return source.slice(open, close + 1);
  }
  return source.slice(open, source[open + 2] === '<' ? open + 4 : open + 3);
}

function escapeAt(source: string, i: number): string {
  const next = source[i + 1] ?? '';
  if (next === 'x' || next === 'u' || next === 'c') {
    throw new SyntaxError(`\\${next} escapes cannot be combined with (?i)`);
  }
  return `\\${next}`;
}

function classEnd(source: string, open: number): number {
  let i = open + 1;
  if (source[i] === '^') i++;
  // A `]` first in a class is an empty class in JavaScript: it closes at once.
  for (; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === ']') return i;
  }
  throw new SyntaxError('unterminated character class');
}

function foldClass(body: string): string {
  let out = '';
  let i = 0;
  if (body.startsWith('^')) {
    out += '^';
    i = 1;
  }
  while (i < body.length) {
    const ch = body[i] as string;
    if (ch === '\\') {
      out += escapeAt(body, i);
      i += 2;
      continue;
    }
    const to = body[i + 2];
    if (body[i + 1] === '-' && to !== undefined && to !== '\\') {
      out += foldRange(ch, to);
      i += 3;
      continue;
    }
    out += swapCase(ch) === ch ? ch : ch + swapCase(ch);
    i++;
  }
  return `[${out}]`;
}

function foldRange(from: string, to: string): string {
  const lower = /^[a-z]$/;
  const upper = /^[A-Z]$/;
  if ((lower.test(from) && lower.test(to)) || (upper.test(from) && upper.test(to))) {
    return `${from}-${to}${swapCase(from)}-${swapCase(to)}`;
  }
  const a = from.charCodeAt(0);
  const b = to.charCodeAt(0);
  const spansLetters = (lo: number, hi: number) => a <= hi && b >= lo;
  if (spansLetters(65, 90) || spansLetters(97, 122) || b > 127) {
    throw new SyntaxError(`the class range ${from}-${to} cannot be combined with (?i)`);
  }
  return `${from}-${to}`;
}

function swapCase(ch: string): string {
  const up = ch.toUpperCase();
  if (up !== ch) return up.length === 1 ? up : ch;
  const low = ch.toLowerCase();
  return low.length === 1 ? low : ch;
}
