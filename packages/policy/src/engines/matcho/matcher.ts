/** A key path into the request context, as explain reports it. */
export type MatchPath = (string | number)[];

/**
 * Three-valued truth (DESIGN §10, "patterns cannot be turned around"): `true`, `false`, or
 * `undefined` — unknown: the value has a shape the pattern was not written for (a list where a
 * scalar was expected, a map where a list was), or it was read from a body policies cannot see.
 * Only `true` allows; `$not` keeps unknown unknown, so no negation turns it into an allow.
 */
export type Truth = boolean | undefined;

/** Where and why a value failed its pattern: the first mismatch found, depth first. */
export interface Mismatch {
  path: MatchPath;
  /** The pattern (or the value a `.path` reference resolved to) that was not met. */
  expected: unknown;
  actual: unknown;
  reason: string;
}

/**
 * A compiled matcho pattern. `test` is the hot path (closures prepared once per policy revision);
 * `why` is its explanation, consulted only when explain is asked for: `undefined` exactly when
 * `test` is true.
 */
export interface Matcher {
  test(value: unknown, root: unknown): Truth;
  why(value: unknown, root: unknown, path: MatchPath): Mismatch | undefined;
}

/** The reason explain gives for an unknown result. */
export const UNKNOWN_REASON =
  'the value has a shape this pattern was not written for (or comes from an unavailable body): unknown, which never allows, negated or not';

/** A matcher whose explanation is simply "this value, this pattern". */
export function leaf(
  pattern: unknown,
  test: (value: unknown, root: unknown) => Truth,
  reason: string,
): Matcher {
  return {
    test,
    why(value, root, path) {
      const truth = test(value, root);
      if (truth === true) return undefined;
      return { path, expected: pattern, actual: value, reason: truth === false ? reason : UNKNOWN_REASON };
    },
  };
}

/**
 * A matcher for a scalar pattern (a string, number, boolean, regex, `$enum`): absent is false, a
 * list or map is unknown (a repeated query parameter is a list: a pattern for one value says
 * nothing about it), any other scalar is `test`'s answer.
 */
export function scalarLeaf(pattern: unknown, test: (value: unknown) => boolean, reason: string): Matcher {
  return leaf(pattern, (v) => (v === undefined ? false : isComposite(v) ? undefined : test(v)), reason);
}

/** Unknown for a present value of the wrong shape, false for an absent one. */
export function misfit(value: unknown): Truth {
  return value === undefined ? false : undefined;
}

/** Stands in for a pattern that failed to compile, so compilation can go on collecting issues. */
export const NEVER: Matcher = leaf(undefined, () => false, 'the pattern is invalid');

/** Every part must match (a map pattern holding both keys and `$` operators): Kleene and. */
export function allOf(parts: readonly Matcher[]): Matcher {
  return {
    test(value, root) {
      let truth: Truth = true;
      for (let i = 0; i < parts.length; i++) {
        const t = (parts[i] as Matcher).test(value, root);
        if (t === false) return false;
        if (t === undefined) truth = undefined;
      }
      return truth;
    },
    why(value, root, path) {
      for (const part of parts) {
        const miss = part.why(value, root, path);
        if (miss !== undefined) return miss;
      }
      return undefined;
    },
  };
}

/** A JSON object that is neither null nor a list: what a map pattern matches against. */
export function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A list or a map. */
export function isComposite(value: unknown): boolean {
  return value !== null && typeof value === 'object';
}
