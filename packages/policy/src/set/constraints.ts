import type { Constraints } from '../engines/rule.js';
import { scanRegex } from '../regex/scan.js';

type UriSpec = NonNullable<Constraints['uris']>;

const SPECIAL = new Set(['present?', 'nil?', 'not-blank?']);

/** Necessary conditions of every rule of an `and`: each child's condition holds, so intersect. */
export function andConstraints(children: readonly Constraints[]): Constraints {
  const out: Constraints = {};
  for (const c of children) {
    if (c.methods) out.methods = out.methods ? intersect(out.methods, c.methods) : c.methods;
    if (c.types) out.types = out.types ? intersect(out.types, c.types) : c.types;
    // Two URI specs cannot be intersected simply; either alone is still a necessary condition.
    if (c.uris && !out.uris) out.uris = c.uris;
  }
  return out;
}

/** Necessary conditions of an `or`: a dimension is constrained only if every branch constrains it. */
export function orConstraints(children: readonly Constraints[]): Constraints {
  if (children.length === 0) return {};
  const out: Constraints = {};
  if (children.every((c) => c.methods))
    out.methods = union(children.map((c) => c.methods as ReadonlySet<string>));
  if (children.every((c) => c.types)) out.types = union(children.map((c) => c.types as ReadonlySet<string>));
  if (children.every((c) => c.uris)) out.uris = unionUris(children.map((c) => c.uris as UriSpec));
  return out;
}

/** What a matcho pattern (the whole `matcho:` value) requires of method, resource type and URI. */
export function matchoConstraints(pattern: unknown): Constraints {
  if (!isMap(pattern)) return {};
  const parts: Constraints[] = [];
  if (Array.isArray(pattern['$one-of'])) parts.push(orConstraints(pattern['$one-of'].map(matchoConstraints)));
  const methods = stringSet(pattern['request-method']);
  const uris = uriSpec(pattern.uri);
  const params = pattern.params;
  let types: ReadonlySet<string> | undefined;
  if (isMap(params)) {
    types = stringSet(params['resource/type']);
    if (Array.isArray(params['$one-of'])) {
      parts.push(orConstraints(params['$one-of'].map((alt) => matchoConstraints({ params: alt }))));
    }
  }
  parts.push({ methods, types, uris });
  return andConstraints(parts);
}

/** The strings a value must be one of to match `pattern`, when the pattern pins it to strings. */
export function stringSet(pattern: unknown): ReadonlySet<string> | undefined {
  if (typeof pattern === 'string') {
    if (SPECIAL.has(pattern) || pattern.startsWith('.')) return undefined;
    if (!pattern.startsWith('#')) return new Set([pattern]);
    const source = pattern.slice(1);
    if (source.startsWith('(?')) return undefined;
    const shape = scanRegex(source);
    return shape.literal !== undefined && shape.anchoredStart && shape.anchoredEnd
      ? new Set([shape.literal])
      : undefined;
  }
  if (!isMap(pattern)) return undefined;
  const e = pattern.$enum;
  if (Array.isArray(e) && e.length > 0 && e.every((v) => typeof v === 'string'))
    return new Set(e as string[]);
  const alternatives = pattern['$one-of'];
  if (Array.isArray(alternatives) && alternatives.length > 0) {
    const sets = alternatives.map(stringSet);
    if (sets.every((s) => s !== undefined)) return union(sets as ReadonlySet<string>[]);
  }
  return undefined;
}

/** The URIs (exact, or by prefix) a value must be to match `pattern`, when the pattern says. */
export function uriSpec(pattern: unknown): UriSpec | undefined {
  const exact = stringSet(pattern);
  if (exact) return { exact, prefixes: new Set() };
  if (typeof pattern === 'string' && pattern.startsWith('#')) return regexUriSpec(pattern.slice(1));
  if (!isMap(pattern) || !Array.isArray(pattern['$one-of']) || pattern['$one-of'].length === 0)
    return undefined;
  const specs = pattern['$one-of'].map(uriSpec);
  return specs.every((s) => s !== undefined) ? unionUris(specs as UriSpec[]) : undefined;
}

/** `^/fhir/Patient…` → every match starts with `/fhir/Patient`. */
export function regexUriSpec(source: string): UriSpec | undefined {
  if (source.startsWith('(?')) return undefined;
  const shape = scanRegex(source);
  if (shape.literal !== undefined && shape.anchoredStart && shape.anchoredEnd) {
    return { exact: new Set([shape.literal]), prefixes: new Set() };
  }
  return shape.prefix === '' ? undefined : { exact: new Set(), prefixes: new Set([shape.prefix]) };
}

function intersect(a: ReadonlySet<string>, b: ReadonlySet<string>): ReadonlySet<string> {
  return new Set([...a].filter((v) => b.has(v)));
}

function union(sets: readonly ReadonlySet<string>[]): ReadonlySet<string> {
  const out = new Set<string>();
  for (const s of sets) for (const v of s) out.add(v);
  return out;
}

function unionUris(specs: readonly UriSpec[]): UriSpec {
  return { exact: union(specs.map((s) => s.exact)), prefixes: union(specs.map((s) => s.prefixes)) };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
