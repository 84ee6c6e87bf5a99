/** A key path into the request context, as explain reports it. */
export type MatchPath = (string | number)[];

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
  test(value: unknown, root: unknown): boolean;
  why(value: unknown, root: unknown, path: MatchPath): Mismatch | undefined;
}

/** A matcher whose explanation is simply "this value, this pattern". */
export function leaf(
  pattern: unknown,
  test: (value: unknown, root: unknown) => boolean,
  reason: string,
): Matcher {
  return {
    test,
    why: (value, root, path) =>
      test(value, root) ? undefined : { path, expected: pattern, actual: value, reason },
  };
}

/** Stands in for a pattern that failed to compile, so compilation can go on collecting issues. */
export const NEVER: Matcher = leaf(undefined, () => false, 'the pattern is invalid');

/** Every part must match (a map pattern holding both keys and `$` operators). */
export function allOf(parts: readonly Matcher[]): Matcher {
  return {
    test(value, root) {
      for (let i = 0; i < parts.length; i++) if (!(parts[i] as Matcher).test(value, root)) return false;
      return true;
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
