/** What a single pass over a JavaScript regex source says about its shape. */
export interface RegexShape {
  /** A `|` outside any group or class: the pattern is an alternation at the top. */
  topLevelAlternation: boolean;
  /** The pattern starts with `^`. */
  anchoredStart: boolean;
  /**
   * When the whole pattern is a literal (optionally `^`-anchored, `$`-terminated, or ending in `.*`),
   * that literal with escapes resolved; else `undefined`.
   */
  literal?: string;
  /** The pattern ends with an unescaped `$` (and is a literal). */
  anchoredEnd: boolean;
  /** Literal text every match must start with, for `^`-anchored patterns ('' when none). */
  prefix: string;
}

const META = new Set(['\\', '^', '$', '.', '|', '?', '*', '+', '(', ')', '[', ']', '{', '}']);
const QUANTIFIER = new Set(['?', '*', '{']);

/** Scans a regex source once (assumed syntactically valid) and describes its shape. */
export function scanRegex(source: string): RegexShape {
  const anchoredStart = source.startsWith('^');
  const topLevelAlternation = hasTopLevelAlternation(source);
  const { text, end } = readLiteral(source, anchoredStart ? 1 : 0);
  const prefix = anchoredStart && !topLevelAlternation ? dropQuantified(source, end, text) : '';
  const rest = source.slice(end);
  let literal: string | undefined;
  let anchoredEnd = false;
  if (!topLevelAlternation && (rest === '' || rest === '$' || rest === '.*')) {
    literal = text;
    anchoredEnd = rest === '$';
  }
  return { topLevelAlternation, anchoredStart, literal, anchoredEnd, prefix };
}

/** Reads literal characters from `start` until the first metacharacter; escaped punctuation is literal. */
function readLiteral(source: string, start: number): { text: string; end: number } {
  let text = '';
  let i = start;
  while (i < source.length) {
    const ch = source[i] as string;
    if (ch === '\\') {
      const next = source[i + 1];
      // `\d`, `\n`, `\u0041` … are classes or codes, not the character itself.
      if (next === undefined || /[A-Za-z0-9]/.test(next)) break;
      text += next;
      i += 2;
      continue;
    }
    if (META.has(ch)) break;
    text += ch;
    i++;
  }
  return { text, end: i };
}

/** A quantifier right after the literal makes its last character optional: it is not part of the prefix. */
function dropQuantified(source: string, end: number, text: string): string {
  const next = source[end];
  return next !== undefined && QUANTIFIER.has(next) ? text.slice(0, -1) : text;
}

function hasTopLevelAlternation(source: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') {
      i++;
    } else if (inClass) {
      if (ch === ']') inClass = false;
    } else if (ch === '[') {
      inClass = true;
    } else if (ch === '(') {
      depth++;
    } else if (ch === ')') {
      depth--;
    } else if (ch === '|' && depth === 0) {
      return true;
    }
  }
  return false;
}
