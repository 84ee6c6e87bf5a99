/**
 * Partial maps (DESIGN §10, "nothing is truncated"): a part of the request context policies see
 * only some keys of. What lies beyond is unknown, never absent.
 */

/**
 * Marks a map policies see only part of (DESIGN §10): `params` of a request whose search
 * parameters may travel in a body they cannot see (a POST `_search` through forward-auth, a
 * compressed form). The map holds only what is known; its {@link Partiality} says which keys
 * are known, present or absent. Any other key read from it — and the map read as a whole — is
 * unknown to matcho and makes a json-schema rule that reads it false: no policy allows by it.
 */
export const PARTIAL_MAP: unique symbol = Symbol('partial map');

/** What a {@link PARTIAL_MAP} mark holds. */
export interface Partiality {
  /** the keys policies know, whether present or absent (route parameters come only from the path) */
  readonly known: ReadonlySet<string>;
  /** why the rest is unseen, for explain */
  readonly reason: string;
}

/** The partiality of a map marked with {@link PARTIAL_MAP}; `undefined` for anything else. */
export function partialityOf(value: unknown): Partiality | undefined {
  return value !== null && typeof value === 'object'
    ? (value as { [PARTIAL_MAP]?: Partiality })[PARTIAL_MAP]
    : undefined;
}

/**
 * What a context path reads at a key a {@link PARTIAL_MAP} does not know (an unavailable body
 * reads as BODY_UNAVAILABLE). Matcho evaluates a comparison with either as unknown.
 */
export const UNSEEN: unique symbol = Symbol('unseen');
