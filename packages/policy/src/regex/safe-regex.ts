import { foldCase } from './case-fold.js';
import { linearRegExp } from './engine.js';
import { scanRegex } from './scan.js';

/**
 * Longest string a policy regex is run against. A longer subject makes the whole rule fail
 * closed ({@link RegexSubjectTooLongError}) rather than spend time on it or answer "no match"
 * (which `$not` would turn into an allow). 16 KiB is the longest URI a check request may carry.
 */
export const MAX_REGEX_SUBJECT = 16384;

/** Thrown while evaluating when a subject exceeds {@link MAX_REGEX_SUBJECT}; the rule evaluates false. */
export class RegexSubjectTooLongError extends Error {
  constructor(readonly length: number) {
    super(
      `a value of ${length} characters is longer than the ${MAX_REGEX_SUBJECT} a policy regex is run against`,
    );
    this.name = 'RegexSubjectTooLongError';
  }
}

/** A policy regex compiled for bounded-time search. */
export interface SafeRegex {
  /** The pattern as written (without the leading `#`). */
  readonly source: string;
  /** Literal text every match starts at position 0 with, when the pattern is `^`-anchored ('' if none). */
  readonly prefix: string;
  /** Regex search (not full match), as Aidbox's `re-find`. Throws {@link RegexSubjectTooLongError}. */
  test(subject: string): boolean;
}

const INLINE_FLAGS = /^\(\?([a-zA-Z]+)\)/;

/**
 * Compiles a policy regex so that no pattern can stall a worker: literal patterns become string
 * tests, everything else runs on V8's linear-time engine; patterns that engine cannot run in
 * linear time (backreferences, lookaround, large counted repetition) are refused here, at PUT.
 * A leading Java-style `(?i)` (common in Aidbox policies) makes the match case-insensitive.
 *
 * @throws SyntaxError with a message fit for a 422 issue
 */
export function compileSafeRegex(source: string): SafeRegex {
  let body = source;
  let caseless = false;
  const flags = INLINE_FLAGS.exec(source);
  if (flags !== null) {
    if (flags[1] !== 'i')
      throw new SyntaxError(`inline flags (?${flags[1]}) are not supported; only a leading (?i) is`);
    body = source.slice(flags[0].length);
    caseless = true;
  }
  try {
    new RegExp(body);
  } catch (err) {
    throw new SyntaxError(`invalid regular expression: ${(err as Error).message}`);
  }
  const shape = scanRegex(body);
  if (!caseless && shape.literal !== undefined) {
    return literalRegex(source, shape.literal, shape.anchoredStart, shape.anchoredEnd);
  }
  let compiled: RegExp;
  try {
    compiled = linearRegExp(caseless ? foldCase(body) : body);
  } catch (err) {
    throw new SyntaxError(
      `the pattern cannot be evaluated in linear time (${(err as Error).message}); ` +
        'backreferences, lookaround and large counted repetition are not supported',
    );
  }
  // A subject without the literal every match contains cannot match: no engine run (the linear
  // engine costs ~1 µs a test; thousands of policies testing claims add up).
  const required = caseless ? '' : shape.required;
  return {
    source,
    prefix: caseless ? '' : shape.prefix,
    test(subject) {
      if (subject.length > MAX_REGEX_SUBJECT) throw new RegexSubjectTooLongError(subject.length);
      if (required !== '' && subject.indexOf(required) === -1) return false;
      return compiled.test(subject);
    },
  };
}

/** `^lit`, `lit$`, `^lit$`, `lit`, `lit.*`: string operations, no regex engine at all. */
function literalRegex(source: string, literal: string, start: boolean, end: boolean): SafeRegex {
  const test = start
    ? end
      ? (s: string) => s === literal
      : (s: string) => s.startsWith(literal)
    : end
      ? (s: string) => s.endsWith(literal)
      : (s: string) => s.includes(literal);
  return {
    source,
    prefix: start ? literal : '',
    test(subject) {
      if (subject.length > MAX_REGEX_SUBJECT) throw new RegexSubjectTooLongError(subject.length);
      return test(subject);
    },
  };
}
