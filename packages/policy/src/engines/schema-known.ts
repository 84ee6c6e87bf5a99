import type { KeywordDefinition } from 'ajv';
import type { DataValidateFunction } from 'ajv/dist/types/index.js';
import { BODY_UNAVAILABLE } from '../context/build.js';
import { partialityOf } from '../context/partial.js';
import { chargeSchemaStep } from './schema-budget.js';
import { CONST_DATA_KEYWORD, readPointer } from './schema-data.js';

/**
 * DESIGN §10 "patterns cannot be turned around", for json-schema. Plain JSON Schema reads an
 * unanticipated shape permissively: `pattern`, `maximum`, `contains` pass vacuously on a value of
 * another type, and `const` / `enum` are simply false on a list — so `{not: {const: "xml"}}`
 * allows `?_format=xml&_format=xml`. Here, as in matcho, such a value is *unknown* (see
 * {@link anticipatedTypes}: object keywords keep JSON Schema's reading), and so
 * is one read from an unavailable body or through a `$data` pointer that finds nothing. Unknown
 * never allows: in a position where the schema must hold for the policy to allow (positive) it is
 * false; where it must fail (under `not`) or both (`oneOf`, `if`, anything reached by `$ref`) the
 * evaluation stops and the rule is false. A subschema with `type` says which shapes its author
 * anticipated: only `$data` and the unavailable body are unknown there.
 */
export const KNOWN_KEYWORD = 'authzKnown';

/** Where a subschema sits: must hold to allow, must fail to allow, or either. */
type Polarity = 'pos' | 'neg' | 'mixed';

/** What {@link KNOWN_KEYWORD} holds: precomputed when the schema compiles, read per application. */
interface KnownMeta {
  /** polarity */
  p: Polarity;
  /** JSON types the subschema's type-specific keywords were written for; absent: any */
  t?: string[];
  /** the `$data` pointer of the subschema's `const`, when it has one */
  d?: string;
  /** the subschema iterates an object's keys (its size is charged to the budget) */
  k?: true;
  /** the subschema runs a regex over a string (its length is charged to the budget) */
  s?: true;
  /** the subschema iterates a list's items (its length is charged to the budget) */
  a?: true;
}

/** Thrown when an unknown value is met where it could turn into an allow: the rule is false. */
export class UnknownInputError extends Error {
  readonly code = 'ERR_SCHEMA_UNKNOWN_INPUT';
  constructor(reason: string, instancePath: string) {
    super(`${instancePath || '(request)'} ${reason}: unknown, which never allows, negated or not`);
    this.name = 'UnknownInputError';
  }
}

const STRING_KEYWORDS = ['pattern', 'minLength', 'maxLength'];
const NUMBER_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];
const ARRAY_KEYWORDS = ['items', 'additionalItems', 'contains', 'minItems', 'maxItems', 'uniqueItems'];
const ARRAY_ITERATING = ['items', 'additionalItems', 'contains', 'uniqueItems'];
const OBJECT_ITERATING = ['patternProperties', 'additionalProperties', 'propertyNames'];
const OBJECT_KEYWORDS = [
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'dependencies',
  ...OBJECT_ITERATING,
];

/**
 * A copy of a normalized schema with {@link KNOWN_KEYWORD} where it is needed: in subschemas that
 * can meet an unknown where it must fail or either (under `not`, `oneOf`, `if`), that read a
 * `$data` pointer, that are applied once per item or key (charged with the size of what they
 * iterate), and — when the schema has `$ref`, so it may recurse — in every one. Where a subschema
 * must hold, an unknown shape is simply false: it gets the `type` it was written for. Elsewhere
 * the cost is bounded by the schema's own size. Keys are walked
 * as in schema-normalize (draft-07 applicators only).
 */
export function instrumentSchema(schema: unknown): unknown {
  const recursive = JSON.stringify(schema).includes('"$ref"');
  return walk(schema, { p: recursive ? 'mixed' : 'pos', typed: false, counted: recursive, recursive });
}

interface Position {
  p: Polarity;
  /** a subschema applied to the same value declares `type` (the shapes are anticipated) */
  typed: boolean;
  /** every application must pass the budget */
  counted: boolean;
  recursive: boolean;
}

function walk(schema: unknown, at: Position): unknown {
  if (!isObject(schema)) return schema;
  const out: Record<string, unknown> = {};
  // In-place applicators see the same value: a `type` here covers them too.
  const here = at.typed || schema.type !== undefined;
  const inPlace = (v: unknown, p: Polarity) => walk(v, { ...at, p, typed: here, counted: at.recursive });
  const child = (v: unknown) => walk(v, { ...at, typed: false, counted: at.recursive });
  const perItem = (v: unknown) => walk(v, { ...at, typed: false, counted: true });
  for (const key of Object.keys(schema)) {
    const value = schema[key];
    if (key === 'not') out[key] = inPlace(value, flip(at.p));
    else if (key === 'if') out[key] = inPlace(value, 'mixed');
    else if (key === 'then' || key === 'else') out[key] = inPlace(value, at.p);
    else if (key === 'oneOf' && Array.isArray(value))
      out[key] = value.map((v) => inPlace(v, value.length === 1 ? at.p : 'mixed'));
    else if ((key === 'allOf' || key === 'anyOf') && Array.isArray(value))
      out[key] = value.map((v) => inPlace(v, at.p));
    else if (key === 'items' && Array.isArray(value)) out[key] = value.map(child);
    else if (PER_ITEM.has(key)) out[key] = perItem(value);
    else if (key === 'patternProperties' && isObject(value)) out[key] = mapValues(value, perItem);
    else if (MAPS.has(key) && isObject(value)) out[key] = mapValues(value, child);
    // Reached only through $ref, from a position nobody can tell here.
    else if (DEFINITIONS.has(key) && isObject(value))
      out[key] = mapValues(value, (v) => walk(v, { ...at, p: 'mixed', typed: false, counted: true }));
    else out[key] = value;
  }
  const meta = metaOf(schema, at.p, here);
  if (meta === undefined) return out;
  const iterates = meta.k === true || meta.a === true;
  if (at.counted || iterates || meta.d !== undefined || (meta.t !== undefined && at.p !== 'pos')) {
    out[KNOWN_KEYWORD] = meta;
  } else if (meta.t !== undefined) {
    // Where it must hold, unknown is false: plain `type` says so, and ajv checks it inline.
    out.type = meta.t;
  }
  return out;
}

/** Keywords that apply their subschema once per item or key. */
const PER_ITEM = new Set(['items', 'additionalItems', 'additionalProperties', 'contains', 'propertyNames']);
const MAPS = new Set(['properties', 'dependencies']);
const DEFINITIONS = new Set(['definitions', '$defs']);

function metaOf(schema: Record<string, unknown>, p: Polarity, typed: boolean): KnownMeta | undefined {
  if (Object.keys(schema).length === 0) return undefined;
  const meta: KnownMeta = { p };
  if (!typed) {
    const types = anticipatedTypes(schema);
    if (types !== undefined) meta.t = types;
  }
  const pointer = schema[CONST_DATA_KEYWORD];
  if (typeof pointer === 'string') meta.d = pointer;
  if (OBJECT_ITERATING.some((k) => k in schema)) meta.k = true;
  if ('pattern' in schema) meta.s = true;
  if (ARRAY_ITERATING.some((k) => k in schema)) meta.a = true;
  return meta;
}

const SCALARS = ['string', 'number', 'boolean', 'null'];

/**
 * The JSON types a subschema without `type` was evidently written for, as matcho reads a pattern:
 * only scalar keywords (`pattern`, `maximum`, a scalar `const` / `enum`) — scalars of those types,
 * so a list (a repeated query parameter) or a map is unknown, as is a string under `maximum`;
 * only list keywords (`contains`, `items`, …) — lists, so a single value is unknown. Object
 * keywords, alone or with others, keep JSON Schema's reading (they pass over other types): a
 * recursive "no securityLabel anywhere" schema walks every value on purpose.
 */
function anticipatedTypes(schema: Record<string, unknown>): string[] | undefined {
  if (OBJECT_KEYWORDS.some((k) => k in schema)) return undefined;
  const hasArray = ARRAY_KEYWORDS.some((k) => k in schema);
  const types = new Set<string>();
  if (STRING_KEYWORDS.some((k) => k in schema)) types.add('string');
  if (NUMBER_KEYWORDS.some((k) => k in schema)) types.add('number');
  for (const value of valuesOf(schema)) {
    const type = jsonType(value);
    // A const or enum of lists or maps was written for those shapes: no rule.
    if (type === 'array' || type === 'object') return undefined;
    for (const scalar of SCALARS) types.add(scalar);
  }
  if (hasArray) return types.size === 0 ? ['array'] : undefined;
  return types.size === 0 ? undefined : [...types];
}

function valuesOf(schema: Record<string, unknown>): unknown[] {
  const values: unknown[] = [];
  if ('const' in schema) values.push(schema.const);
  if (Array.isArray(schema.enum)) values.push(...schema.enum);
  return values;
}

/** Ajv keyword: charges the evaluation budget, then answers unknown by the subschema's polarity. */
export const knownKeyword: KeywordDefinition = {
  keyword: KNOWN_KEYWORD,
  schemaType: 'object',
  // First of the untyped keywords, so an unknown is seen before a sibling's verdict ends the subschema.
  before: '$comment',
  errors: true,
  compile(meta: KnownMeta): DataValidateFunction {
    const known: DataValidateFunction = (data, cxt) => {
      chargeSchemaStep(cost(meta, data));
      const reason = unknownReason(meta, data, cxt?.rootData);
      if (reason === undefined) return true;
      if (meta.p !== 'pos') throw new UnknownInputError(reason, cxt?.instancePath ?? '');
      known.errors = [
        { keyword: KNOWN_KEYWORD, message: `${reason}: unknown, which never allows`, params: {} },
      ];
      return false;
    };
    return known;
  },
};

function unknownReason(meta: KnownMeta, data: unknown, root: unknown): string | undefined {
  if (data === BODY_UNAVAILABLE) return 'is read from a body policies cannot see (body_unavailable)';
  if (meta.t !== undefined) {
    const type = jsonType(data);
    if (!meta.t.includes(type === 'integer' ? 'number' : type)) {
      return `is ${article(type)}, a shape this schema was not written for (it checks ${meta.t.join(' or ')})`;
    }
  }
  if (meta.d !== undefined) {
    const expected = readPointer(root, meta.d);
    if (expected === undefined || expected === BODY_UNAVAILABLE)
      return `is compared with ${meta.d}, which reads nothing`;
    // A partial map (DESIGN §10) read whole through a pointer (a key it lacks reads nothing above).
    if (partialityOf(expected) !== undefined)
      return `is compared with ${meta.d}, which policies cannot see whole`;
  }
  return undefined;
}

/** What one application costs beyond its step: the items, keys or characters it walks. */
function cost(meta: KnownMeta, data: unknown): number {
  if (Array.isArray(data)) return data.length;
  if (meta.s && typeof data === 'string') return REGEX_STEPS + (data.length >> REGEX_CHARS_PER_STEP_SHIFT);
  if (!meta.k || !isObject(data)) return 0;
  let n = 0;
  for (const _ in data) n++;
  return n;
}

/**
 * A regex run costs as much as ~8 plain subschema applications to start (the linear-time engine),
 * plus a step per 32 characters of subject.
 */
const REGEX_STEPS = 8;
const REGEX_CHARS_PER_STEP_SHIFT = 5;

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function article(type: string): string {
  return type === 'array' ? 'a list' : type === 'object' ? 'a map' : `a ${type}`;
}

function flip(p: Polarity): Polarity {
  return p === 'pos' ? 'neg' : p === 'neg' ? 'pos' : 'mixed';
}

function mapValues(map: Record<string, unknown>, fn: (v: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(map)) out[name] = fn(map[name]);
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
