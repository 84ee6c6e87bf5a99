import type { Constraints } from '../engines/rule.js';
import { regexUriSpec } from './constraints.js';

/**
 * What a (normalized) json-schema rule requires of method, resource type and URI: only fields the
 * schema both `required`s and pins with `const`, string `enum` or (for `uri`) an anchored `pattern`
 * count, since `properties` alone says nothing about an absent field.
 */
export function schemaConstraints(schema: unknown): Constraints {
  const root = objectSchema(schema);
  if (root === undefined) return {};
  const out: Constraints = {};
  const method = requiredProperty(root, 'request-method');
  if (method) out.methods = pinned(method);
  const uri = requiredProperty(root, 'uri');
  if (uri) {
    const exact = pinned(uri);
    if (exact) out.uris = { exact, prefixes: new Set() };
    else if (typeof uri.pattern === 'string') out.uris = regexUriSpec(uri.pattern);
  }
  const params = objectSchema(requiredProperty(root, 'params'));
  const type = params && requiredProperty(params, 'resource/type');
  if (type) out.types = pinned(type);
  return out;
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
  const required = schema.required;
  const properties = schema.properties;
  if (!Array.isArray(required) || !required.includes(name)) return undefined;
  if (properties === null || typeof properties !== 'object' || !Object.hasOwn(properties, name))
    return undefined;
  return objectSchema((properties as Record<string, unknown>)[name]);
}

function pinned(schema: Record<string, unknown>): ReadonlySet<string> | undefined {
  if (typeof schema.const === 'string') return new Set([schema.const]);
  const e = schema.enum;
  if (Array.isArray(e) && e.length > 0 && e.every((v) => typeof v === 'string'))
    return new Set(e as string[]);
  return undefined;
}
