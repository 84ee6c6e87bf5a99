import { partialityOf, UNSEEN } from './partial.js';

/** A parsed `.path` into the request context: its keys, each also as an array index when numeric. */
export type ContextPath = readonly (string | number)[];

const INDEX = /^(?:0|[1-9][0-9]{0,8})$/;

/**
 * Parses a matcho context reference (`.user.id`, `.params.resource/type`, `.jwt.roles.0`).
 * Keys split on `.` only, so slash keys stay whole; numeric keys also index arrays.
 * Returns `undefined` when the reference names no key or has an empty one (`.a..b`).
 */
export function parseContextPath(reference: string): ContextPath | undefined {
  if (reference.length < 2 || reference[0] !== '.') return undefined;
  const keys = reference.slice(1).split('.');
  const path: (string | number)[] = [];
  for (const key of keys) {
    if (key === '') return undefined;
    path.push(INDEX.test(key) ? Number(key) : key);
  }
  return path;
}

/**
 * The value at `path` in `root`, or `undefined` when any step is missing. Own properties only.
 * A key a partial map does not know (DESIGN §10) reads {@link UNSEEN}, not `undefined`.
 */
export function resolveContextPath(root: unknown, path: ContextPath): unknown {
  let at = root;
  for (let i = 0; i < path.length; i++) {
    // BODY_UNAVAILABLE (a symbol) is returned as it is: what lies beyond it is unknown, not absent.
    if (typeof at === 'symbol') return at;
    if (at === null || typeof at !== 'object') return undefined;
    const key = path[i] as string | number;
    if (Array.isArray(at)) {
      if (typeof key !== 'number') return undefined;
      at = at[key];
    } else {
      const name = typeof key === 'number' ? String(key) : key;
      if (Object.hasOwn(at, name)) at = (at as Record<string, unknown>)[name];
      else if (partialityOf(at)?.known.has(name) === false) return UNSEEN;
      else at = undefined;
    }
  }
  return at;
}

/** Renders a path the way explain and issues name it: `params.resource/type`, `role[0].name`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? key : `.${key}`;
  }
  return out;
}
