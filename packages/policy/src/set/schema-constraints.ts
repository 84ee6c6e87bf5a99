import { type Constraints, type Pin, pinKey, type Scalar } from '../engines/rule.js';
import { isScalar, regexUriSpec } from './constraints.js';

const MAX_PIN_DEPTH = 6;

/**
 * What a (normalized) json-schema rule requires: paths the schema both `required`s and pins with a
 * scalar `const` or `enum` (recursively through `required` objects), and the top-level `uri` (also
 * by an anchored `pattern`). `properties` alone says nothing about an absent field, so only
 * required ones count.
 */
export function schemaConstraints(schema: unknown): Constraints {
  const root = objectSchema(schema);
  if (root === undefined) return {};
  const pins = new Map<string, Pin>();
  collect(root, [], pins);
  let uris: Constraints['uris'];
  const uri = requiredProperty(root, 'uri');
  if (uri) {
    const exact = pinned(uri);
    if (exact)
      uris = {
        exact: new Set([...exact].filter((v): v is string => typeof v === 'string')),
        prefixes: new Set(),
      };
    else if (typeof uri.pattern === 'string') uris = regexUriSpec(uri.pattern);
  }
  return { pins: pins.size > 0 ? pins : undefined, uris };
}

function collect(schema: Record<string, unknown>, path: string[], pins: Map<string, Pin>): void {
  if (path.length >= MAX_PIN_DEPTH || !Array.isArray(schema.required)) return;
  for (const name of schema.required) {
    if (typeof name !== 'string' || (path.length === 0 && name === 'uri')) continue;
    const sub = requiredProperty(schema, name);
    if (sub === undefined) continue;
    const at = [...path, name];
    const values = pinned(sub);
    // Below the top level (always a map), a non-map value passes `properties`: the pin is lenient.
    const lenient = at.length > 1;
    const key = pinKey(at, lenient);
    if (values) pins.set(key, { key, path: at, values, lenient });
    else collect(sub, at, pins);
  }
}

/** A schema object whose keywords all apply (draft-07 ignores the siblings of `$ref`). */
function objectSchema(schema: unknown): Record<string, unknown> | undefined {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return undefined;
  return '$ref' in schema ? undefined : (schema as Record<string, unknown>);
}

function requiredProperty(
  schema: Record<string, unknown>,
  name: string,
): Record<string, unknown> | undefined {
  const { required, properties } = schema;
  if (!Array.isArray(required) || !required.includes(name)) return undefined;
  if (properties === null || typeof properties !== 'object' || !Object.hasOwn(properties, name))
    return undefined;
  return objectSchema((properties as Record<string, unknown>)[name]);
}

function pinned(schema: Record<string, unknown>): ReadonlySet<Scalar> | undefined {
  if (isScalar(schema.const)) return new Set([schema.const]);
  const e = schema.enum;
  if (Array.isArray(e) && e.length > 0 && e.every(isScalar)) return new Set(e as Scalar[]);
  return undefined;
}
