import type { Constraints, Pin, Scalar } from '../engines/rule.js';
import { pinKey } from '../engines/rule.js';
import { scanRegex } from '../regex/scan.js';

type UriSpec = NonNullable<Constraints['uris']>;

const SPECIAL = new Set(['present?', 'nil?', 'not-blank?']);
/** How deep into a pattern or schema pins are looked for: deeper ones are still checked, just not indexed. */
const MAX_PIN_DEPTH = 6;

/** Necessary conditions of every rule of an `and`: each child's condition holds, so combine them all. */
export function andConstraints(children: readonly Constraints[]): Constraints {
  const pins = new Map<string, Pin>();
  let uris: UriSpec | undefined;
  for (const c of children) {
    for (const [key, pin] of c.pins ?? []) {
      const prior = pins.get(key);
      pins.set(key, prior ? { ...pin, values: intersect(prior.values, pin.values) } : pin);
    }
    // Two URI specs cannot be intersected simply; either alone is still a necessary condition.
    uris ??= c.uris;
  }
  return { pins: pins.size > 0 ? pins : undefined, uris };
}

/** Necessary conditions of an `or`: a path is pinned only if every branch pins it. */
export function orConstraints(children: readonly Constraints[]): Constraints {
  const [first, ...rest] = children;
  if (first === undefined) return {};
  const pins = new Map<string, Pin>();
  for (const [key, pin] of first.pins ?? []) {
    const all = [pin, ...rest.map((c) => c.pins?.get(key))];
    if (all.every((p) => p !== undefined))
      pins.set(key, { ...pin, values: union(all.map((p) => (p as Pin).values)) });
  }
  const uris = children.every((c) => c.uris) ? unionUris(children.map((c) => c.uris as UriSpec)) : undefined;
  return { pins: pins.size > 0 ? pins : undefined, uris };
}

/** What a matcho pattern (the whole `matcho:` value) requires: pinned paths and the URI. */
export function matchoConstraints(pattern: unknown): Constraints {
  const pins = new Map<string, Pin>();
  const parts: Constraints[] = [];
  collectPins(pattern, [], pins, parts);
  const uris = isMap(pattern) ? uriSpec(pattern.uri) : undefined;
  return andConstraints([{ pins, uris }, ...parts]);
}

function collectPins(pattern: unknown, path: string[], pins: Map<string, Pin>, parts: Constraints[]): void {
  if (!isMap(pattern) || path.length >= MAX_PIN_DEPTH) return;
  const alternatives = pattern['$one-of'];
  if (Array.isArray(alternatives) && alternatives.length > 0) {
    parts.push(orConstraints(alternatives.map((alt) => pinsAt(alt, path))));
  }
  for (const [key, sub] of Object.entries(pattern)) {
    if (key.startsWith('$')) continue;
    const at = [...path, key];
    // The URI has its own dimension (exact or prefix), filled by uriSpec.
    if (at.length === 1 && key === 'uri') continue;
    const values = pinnedValues(sub);
    if (values) pins.set(pinKey(at), { key: pinKey(at), path: at, values });
    else collectPins(sub, at, pins, parts);
  }
}

/** The pins of `pattern` matched at `path` (an alternative of a `$one-of`). */
function pinsAt(pattern: unknown, path: string[]): Constraints {
  if (path.length === 0) return matchoConstraints(pattern);
  const pins = new Map<string, Pin>();
  const parts: Constraints[] = [];
  const values = pinnedValues(pattern);
  if (values) pins.set(pinKey(path), { key: pinKey(path), path, values });
  else collectPins(pattern, path, pins, parts);
  return andConstraints([{ pins }, ...parts]);
}

/** The scalars a value must be one of to match `pattern`, when the pattern pins it to scalars. */
export function pinnedValues(pattern: unknown): ReadonlySet<Scalar> | undefined {
  if (typeof pattern === 'number' || typeof pattern === 'boolean') return new Set([pattern]);
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
  if (Array.isArray(e) && e.length > 0 && e.every(isScalar)) return new Set(e as Scalar[]);
  const alternatives = pattern['$one-of'];
  if (Array.isArray(alternatives) && alternatives.length > 0) {
    const sets = alternatives.map(pinnedValues);
    if (sets.every((s) => s !== undefined)) return union(sets as ReadonlySet<Scalar>[]);
  }
  return undefined;
}

/** The URIs (exact, or by prefix) a value must be to match `pattern`, when the pattern says. */
export function uriSpec(pattern: unknown): UriSpec | undefined {
  const exact = pinnedValues(pattern);
  if (exact) return { exact: strings(exact), prefixes: new Set() };
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

export function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** Only strings can equal a URI: other pinned scalars mean no URI matches. */
function strings(values: ReadonlySet<Scalar>): ReadonlySet<string> {
  return new Set([...values].filter((v): v is string => typeof v === 'string'));
}

function intersect<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): ReadonlySet<T> {
  return new Set([...a].filter((v) => b.has(v)));
}

function union<T>(sets: readonly ReadonlySet<T>[]): ReadonlySet<T> {
  const out = new Set<T>();
  for (const s of sets) for (const v of s) out.add(v);
  return out;
}

function unionUris(specs: readonly UriSpec[]): UriSpec {
  return { exact: union(specs.map((s) => s.exact)), prefixes: union(specs.map((s) => s.prefixes)) };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
