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
  /**
   * The longest literal run every match must contain somewhere ('' when none is known): a
   * subject without it cannot match, so the regex engine need not run (`(^| )scope-1( |$)` →
   * `scope-1`). Found only in the top-level sequence of a pattern without top-level `|`.
   */
  required: string;
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
  const required = topLevelAlternation ? '' : requiredLiteral(source);
  return { topLevelAlternation, anchoredStart, literal, anchoredEnd, prefix, required };
}

/**
 * Walks the top-level sequence atom by atom. A literal character extends the current run unless
 * a quantifier makes it optional (`?`, `*`, `{0…}`: dropped, the run ends) or repeatable (`+`,
 * `{n…}`: kept, the run ends after it, since copies may follow). Groups, classes, escapes that
 * are not the character itself, `.`, `^`, `$` end the run. Breaking a run only ever makes the
 * result shorter, never wrong.
 */
function requiredLiteral(source: string): string {
  let best = '';
  let run = '';
  const end = () => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let i = 0; i < source.length; ) {
    let literal: string | undefined;
    const ch = source[i] as string;
    if (ch === '\\') {
      const next = source[i + 1];
      if (next !== undefined && !/[A-Za-z0-9]/.test(next)) literal = next;
      i += 2;
    } else if (ch === '[') {
      i = skipClass(source, i);
    } else if (ch === '(') {
      i = skipGroup(source, i);
    } else {
      if (!META.has(ch)) literal = ch;
      i++;
    }
    const q = source[i];
    const optional = q === '?' || q === '*' || (q === '{' && /^\{0[,}]/.test(source.slice(i)));
    const repeated = q === '+' || q === '{';
    if (q === '{') i = source.indexOf('}', i) + 1 || source.length;
    else if (optional || repeated) i++;
    if (source[i] === '?' && (optional || repeated)) i++; // lazy
    if (literal === undefined || optional) {
      end();
      continue;
    }
    run += literal;
    if (repeated) end();
  }
  end();
  return best;
}

/** Index after the character class starting at `start` (`[`). */
function skipClass(source: string, start: number): number {
  let i = start + 1;
  if (source[i] === '^') i++;
  if (source[i] === ']') i++; // a leading `]` is literal
  for (; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === ']') return i + 1;
  }
  return source.length;
}

/** Index after the group starting at `start` (`(`), nested groups and classes included. */
function skipGroup(source: string, start: number): number {
  let depth = 0;
  for (let i = start; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') i++;
    else if (ch === '[') i = skipClass(source, i) - 1;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i + 1;
  }
  return source.length;
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
