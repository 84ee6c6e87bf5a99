import { childPath, type IssueCollector } from '../errors.js';
import { CONST_DATA_KEYWORD, dataPointer, isDataReference } from './schema-data.js';

const MAX_SCHEMA_DEPTH = 32;
// Keywords whose value is one subschema, a list of subschemas, or a map of name → subschema
// (draft-07). Only these are walked, so a property *named* `constant` is left alone.
const ONE = new Set([
  'additionalItems',
  'additionalProperties',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
]);
const MANY = new Set(['allOf', 'anyOf', 'oneOf']);
const MAP = new Set(['properties', 'patternProperties', 'definitions', '$defs']);

/**
 * Prepares an Aidbox json-schema for ajv: `constant` becomes `const` (Aidbox docs use it) at every
 * schema position; a `const` of `{$data: "#/jwt/pid"}` compares with that part of the request; `format` is refused, since without format validators ajv would silently pass
 * any value and make the policy more permissive than written. Returns a copy, or `undefined` with
 * issues added.
 */
export function normalizeSchema(schema: unknown, path: string, issues: IssueCollector): unknown {
  const before = issues.issues.length;
  if (typeof schema !== 'boolean' && !isObject(schema)) {
    issues.add(path, 'schema must be a JSON Schema object');
    return undefined;
  }
  const out = walk(schema, path, issues, 0);
  return issues.issues.length > before ? undefined : out;
}

function walk(schema: unknown, path: string, issues: IssueCollector, depth: number): unknown {
  if (!isObject(schema)) return schema;
  if (depth > MAX_SCHEMA_DEPTH) {
    issues.add(path, `the schema is nested deeper than ${MAX_SCHEMA_DEPTH} levels`);
    return schema;
  }
  const out: Record<string, unknown> = {};
  // Keys in sorted order: JSON.stringify of the result is then a canonical sharing key.
  for (const key of Object.keys(schema).sort()) {
    const value = schema[key];
    const at = childPath(path, key);
    if (key === '__proto__') issues.add(at, 'the key __proto__ is not allowed in a schema');
    else if (key === 'format') issues.add(at, 'format is not supported: use pattern, enum or const');
    else if (
      (key === 'const' || (key === 'constant' && !Object.hasOwn(schema, 'const'))) &&
      isDataReference(value)
    )
      out[CONST_DATA_KEYWORD] = dataPointer(value, at, issues);
    else if (key === 'constant' && !Object.hasOwn(schema, 'const')) out.const = value;
    else if (ONE.has(key)) out[key] = walk(value, at, issues, depth + 1);
    else if (key === 'items' && Array.isArray(value))
      out[key] = value.map((v, i) => walk(v, childPath(at, i), issues, depth + 1));
    else if (key === 'items') out[key] = walk(value, at, issues, depth + 1);
    else if (key === 'dependencies' && isObject(value)) out[key] = walkMap(value, at, issues, depth);
    else if (MANY.has(key) && Array.isArray(value))
      out[key] = value.map((v, i) => walk(v, childPath(at, i), issues, depth + 1));
    else if (MAP.has(key) && isObject(value)) out[key] = walkMap(value, at, issues, depth);
    else out[key] = value;
  }
  return out;
}

function walkMap(value: Record<string, unknown>, at: string, issues: IssueCollector, depth: number): unknown {
  const out: Record<string, unknown> = {};
  const names = Object.keys(value).sort();
  // walk leaves non-objects alone, so `dependencies` lists of names pass through unchanged.
  for (const name of names) {
    if (name === '__proto__') issues.add(childPath(at, name), 'the key __proto__ is not allowed in a schema');
    else out[name] = walk(value[name], childPath(at, name), issues, depth + 1);
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The key identical schemas share a validator under. {@link normalizeSchema} emits schema keys in
 * sorted order, so equal schemas written in any key order give the same string.
 */
export function schemaKey(normalized: unknown): string {
  return JSON.stringify(normalized) ?? 'null';
}

/** A JSON pointer from ajv (`/properties/resource~1type`) as an issue path under `base`. */
export function pointerToPath(base: string, pointer: string): string {
  if (pointer === '') return base;
  return pointer
    .slice(1)
    .split('/')
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce(
      (acc, seg) => (/^\d+$/.test(seg) && acc !== '' ? childPath(acc, Number(seg)) : childPath(acc, seg)),
      base,
    );
}
