import type { KeywordDefinition } from 'ajv';
import { childPath, type IssueCollector } from '../errors.js';

/**
 * The keyword a `{const: {$data: "#/jwt/pid"}}` (Aidbox tutorials; DESIGN §12) becomes. Ajv's own
 * `$data` passes when the pointer reads nothing, which would let a policy comparing a route id
 * with a claim the token lacks allow every id: here a pointer that reads nothing fails.
 */
export const CONST_DATA_KEYWORD = 'authzConstData';

const MAX_POINTER = 1024;

/** Whether a `const` value is a `$data` reference (an object whose only key is `$data`). */
export function isDataReference(value: unknown): value is { $data: unknown } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === '$data';
}

/**
 * The absolute JSON pointer (RFC 6901) of a `$data` reference, from its URI-fragment form
 * (`#/jwt/pid`, RFC 6901 §6) or plain form (`/jwt/pid`); relative pointers are refused.
 */
export function dataPointer(ref: { $data: unknown }, at: string, issues: IssueCollector): string | undefined {
  const raw = ref.$data;
  const where = childPath(at, '$data');
  if (typeof raw !== 'string' || raw.length > MAX_POINTER) {
    issues.add(where, `$data must be a JSON pointer string of at most ${MAX_POINTER} characters`);
    return undefined;
  }
  let pointer = raw;
  if (raw.startsWith('#')) {
    try {
      pointer = decodeURIComponent(raw.slice(1));
    } catch {
      issues.add(where, 'the $data pointer is not valid percent-encoding');
      return undefined;
    }
  }
  if (!/^(\/([^~]|~0|~1)*)*$/.test(pointer)) {
    issues.add(where, 'only absolute $data pointers into the request are supported, like "#/jwt/pid"');
    return undefined;
  }
  return pointer;
}

/** Ajv definition of {@link CONST_DATA_KEYWORD}: the value equals the one the pointer reads. */
export const constDataKeyword: KeywordDefinition = {
  keyword: CONST_DATA_KEYWORD,
  schemaType: 'string',
  errors: false,
  validate(pointer: string, data: unknown, _parent: unknown, cxt?: { rootData: unknown }): boolean {
    const expected = readPointer(cxt?.rootData, pointer);
    return expected !== undefined && jsonEqual(data, expected);
  },
};

/** The value an absolute JSON pointer (RFC 6901) reads in `root`, `undefined` when it reads nothing. */
export function readPointer(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let at: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
