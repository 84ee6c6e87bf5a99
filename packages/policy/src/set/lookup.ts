/** Reading the request context the way each engine does, for the candidate index's lookups. */
import type { RequestContext } from '../context/build.js';
import type { Scalar } from '../engines/rule.js';

/** A lenient path crossed a present non-map value: any policy pinning it may allow. */
export const ANY = Symbol('any');

/** The scalar at `path` (own properties only, as matcho reads them), else `undefined`. */
export function resolve(ctx: RequestContext, path: readonly string[]): Scalar | undefined {
  let at: unknown = ctx;
  for (let i = 0; i < path.length; i++) {
    if (at === null || typeof at !== 'object' || Array.isArray(at)) return undefined;
    const key = path[i] as string;
    if (!Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return typeof at === 'string' || typeof at === 'number' || typeof at === 'boolean' ? at : undefined;
}

/**
 * The scalar at `path` as ajv reads it for `required` + `properties`: plain property access, and a
 * present value that is not a map on the way makes the rest of the schema vacuous ({@link ANY}).
 */
export function resolveLenient(
  ctx: RequestContext,
  path: readonly string[],
): Scalar | undefined | typeof ANY {
  let at: unknown = ctx;
  for (let i = 0; i < path.length; i++) {
    if (at === undefined) return undefined;
    if (at === null || typeof at !== 'object' || Array.isArray(at)) return ANY;
    at = (at as Record<string, unknown>)[path[i] as string];
  }
  return typeof at === 'string' || typeof at === 'number' || typeof at === 'boolean' ? at : undefined;
}
