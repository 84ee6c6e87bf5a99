/** Keywords that apply a subschema, or a check, to properties whatever their names. */
const ANY_PROPERTY = [
  'patternProperties',
  'additionalProperties',
  'propertyNames',
  'dependencies',
  'dependentRequired',
  'dependentSchemas',
  'unevaluatedProperties',
  'minProperties',
  'maxProperties',
  'const',
  'enum',
  '$ref',
  '$dynamicRef',
  '$recursiveRef',
];
const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf'];
const SUBSCHEMAS = ['not', 'if', 'then', 'else'];

/**
 * Whether a JSON Schema applied to the request context may look at any of the top-level
 * properties `keys` (`body`, `resource`): by name in `properties` or `required`, or through a
 * keyword that reaches properties whatever their names (`additionalProperties`, `$ref`, …).
 * Conservative: "may" is enough to say yes. DESIGN §10: such a rule cannot allow a request whose
 * body policies cannot see.
 */
export function schemaMayRead(schema: unknown, keys: readonly string[], depth = 0): boolean {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return false;
  if (depth > 32) return true;
  const s = schema as Record<string, unknown>;
  for (const keyword of ANY_PROPERTY) {
    if (s[keyword] !== undefined && !(keyword === 'additionalProperties' && s[keyword] === true)) return true;
  }
  const properties = s.properties;
  if (properties !== null && typeof properties === 'object') {
    for (const key of keys) if (Object.hasOwn(properties, key)) return true;
  }
  if (Array.isArray(s.required) && keys.some((key) => (s.required as unknown[]).includes(key))) return true;
  for (const keyword of SUBSCHEMA_LISTS) {
    const list = s[keyword];
    if (Array.isArray(list) && list.some((sub) => schemaMayRead(sub, keys, depth + 1))) return true;
  }
  return SUBSCHEMAS.some((keyword) => schemaMayRead(s[keyword], keys, depth + 1));
}
