import { BODY_UNAVAILABLE } from '../../context/build.js';
import { partialityOf } from '../../context/partial.js';
import { parseContextPath, resolveContextPath } from '../../context/path.js';
import { childPath, type IssueCollector } from '../../errors.js';
import { preview } from '../../explain/preview.js';
import { compileSafeRegex } from '../../regex/safe-regex.js';
import { jsonEqual } from './equal.js';
import {
  allOf,
  isComposite,
  isMap,
  leaf,
  type Matcher,
  misfit,
  NEVER,
  scalarLeaf,
  type Truth,
  UNKNOWN_REASON,
} from './matcher.js';
import { compileOperator, isOperator } from './operators.js';

/** Deepest pattern accepted: bounds the recursion at evaluation time. */
export const MAX_PATTERN_DEPTH = 32;

const NOT_BLANK = /\S/;

/**
 * Compiles a matcho pattern (DESIGN §6, Aidbox's matcho DSL) into closures. Problems are added to
 * `issues` under `path` (`matcho.params.resource/type`); the returned matcher is then meaningless.
 */
export function compileMatcher(pattern: unknown, path: string, issues: IssueCollector, depth = 0): Matcher {
  if (depth > MAX_PATTERN_DEPTH) {
    issues.add(path, `the pattern is nested deeper than ${MAX_PATTERN_DEPTH} levels`);
    return NEVER;
  }
  const nested = (p: unknown, at: string) => compileMatcher(p, at, issues, depth + 1);
  if (pattern === null) return leaf(pattern, (v) => v === undefined || v === null, 'expected no value');
  switch (typeof pattern) {
    case 'string':
      return compileString(pattern, path, issues);
    case 'number':
    case 'boolean':
      return scalarLeaf(pattern, (v) => v === pattern, `expected ${String(pattern)}`);
    case 'object':
      return Array.isArray(pattern)
        ? compileList(pattern, path, nested)
        : compileMap(pattern as Record<string, unknown>, path, issues, nested);
    default:
      issues.add(path, `a ${typeof pattern} is not a matcho pattern`);
      return NEVER;
  }
}

function compileString(pattern: string, path: string, issues: IssueCollector): Matcher {
  switch (pattern) {
    // Shape-blind: any value is present. An unavailable body never gets here (map patterns stop it).
    case 'present?':
      return leaf(pattern, (v) => v !== undefined && v !== null, 'expected a value');
    case 'nil?':
      return leaf(pattern, (v) => v === undefined || v === null, 'expected no value');
    case 'not-blank?':
      return scalarLeaf(
        pattern,
        (v) => typeof v === 'string' && NOT_BLANK.test(v),
        'expected a non-blank string',
      );
  }
  if (pattern.startsWith('#')) {
    try {
      const regex = compileSafeRegex(pattern.slice(1));
      return scalarLeaf(
        pattern,
        (v) => typeof v === 'string' && regex.test(v),
        'expected a string matching the regex',
      );
    } catch (err) {
      issues.add(path, (err as Error).message);
      return NEVER;
    }
  }
  if (pattern.startsWith('.')) return compileReference(pattern, path, issues);
  return scalarLeaf(pattern, (v) => v === pattern, `expected "${pattern}"`);
}

/**
 * `.user.id`: equal to that value of the request context. Deliberate difference from Aidbox: a
 * reference that resolves to nothing never matches (Aidbox matches when both sides are missing,
 * so `{params: {owner: .user.id}}` would let an anonymous request without `owner` through).
 */
function compileReference(pattern: string, path: string, issues: IssueCollector): Matcher {
  const ref = parseContextPath(pattern);
  if (ref === undefined) {
    issues.add(path, `"${pattern}" is not a context path (expected keys separated by dots, like .user.id)`);
    return NEVER;
  }
  const test = (v: unknown, root: unknown): Truth => {
    if (v === undefined) return false;
    const resolved = resolveContextPath(root, ref);
    if (resolved === undefined) return false;
    // Read through an unavailable body or past what a partial map shows (a symbol either way),
    // a partial map compared whole, or a list compared with one value: unknown (DESIGN §10).
    if (typeof resolved === 'symbol' || isComposite(v) !== isComposite(resolved)) return undefined;
    if (partialityOf(v) !== undefined || partialityOf(resolved) !== undefined) return undefined;
    return jsonEqual(v, resolved);
  };
  return {
    test,
    why(v, root, at) {
      const truth = test(v, root);
      if (truth === true) return undefined;
      if (truth === undefined) return { path: at, expected: pattern, actual: v, reason: UNKNOWN_REASON };
      const resolved = resolveContextPath(root, ref);
      return resolved === undefined
        ? {
            path: at,
            expected: pattern,
            actual: v,
            reason: `${pattern} resolves to nothing, which never matches`,
          }
        : {
            path: at,
            expected: preview(resolved, ref),
            actual: v,
            reason: `expected the value of ${pattern}`,
          };
    },
  };
}

function compileList(pattern: unknown[], path: string, nested: (p: unknown, at: string) => Matcher): Matcher {
  const items = pattern.map((item, i) => nested(item, childPath(path, i)));
  const test = (v: unknown, root: unknown): Truth => {
    if (!Array.isArray(v)) return misfit(v);
    let truth: Truth = true;
    for (let i = 0; i < items.length; i++) {
      const t = (items[i] as Matcher).test(v[i], root);
      if (t === false) return false;
      if (t === undefined) truth = undefined;
    }
    return truth;
  };
  return {
    test,
    why(v, root, at) {
      if (test(v, root) === true) return undefined;
      if (!Array.isArray(v))
        return {
          path: at,
          expected: pattern,
          actual: v,
          reason: v === undefined ? 'expected a list' : UNKNOWN_REASON,
        };
      const i = items.findIndex((item, k) => item.test(v[k], root) !== true);
      return items[i]?.why(v[i], root, [...at, i]);
    },
  };
}

function compileMap(
  pattern: Record<string, unknown>,
  path: string,
  issues: IssueCollector,
  nested: (p: unknown, at: string) => Matcher,
): Matcher {
  const keys = Object.keys(pattern);
  if (keys.includes('$one-of') && keys.length > 1) {
    issues.add(
      childPath(path, '$one-of'),
      '$one-of cannot be combined with other keys; repeat them in each alternative',
    );
  }
  const parts: Matcher[] = [];
  const plain = keys.filter((key) => !key.startsWith('$'));
  if (plain.length > 0 || keys.length === 0) parts.push(mapOf(pattern, plain, path, nested));
  for (const key of keys) {
    if (!key.startsWith('$')) continue;
    const at = childPath(path, key);
    if (!isOperator(key)) {
      issues.add(at, `unknown matcho operator ${key}`);
      continue;
    }
    parts.push(compileOperator(key, pattern[key], at, issues, nested) ?? NEVER);
  }
  return parts.length === 1 ? (parts[0] as Matcher) : allOf(parts);
}

/**
 * Subset match: every key of the pattern matches the value's own property of that name. A key a
 * partial map does not know, or a partial map given to anything but a map of plain keys (`nil?`,
 * `$not`, a reference, …, which would read the map whole), is unknown (DESIGN §10).
 */
function mapOf(
  pattern: Record<string, unknown>,
  keys: string[],
  path: string,
  nested: (p: unknown, at: string) => Matcher,
): Matcher {
  const entries = keys.map((key) => ({
    key,
    matcher: nested(pattern[key], childPath(path, key)),
    byKeys: readsByKeys(pattern[key]),
  }));
  // Names an object inherits (`constructor`, `__proto__`, …) need an own-property check; the
  // rest can be read directly, which is the hot path.
  const inherited = keys.some((key) => key in Object.prototype);
  const get = inherited
    ? (v: Record<string, unknown>, key: string) => (Object.hasOwn(v, key) ? v[key] : undefined)
    : (v: Record<string, unknown>, key: string) => v[key];
  /** Why `value` (at `key` of `v`) cannot be judged, or `undefined` when it can. */
  const unseen = (v: Record<string, unknown>, entry: (typeof entries)[number], value: unknown) => {
    // DESIGN §10: whatever is read from an unavailable body is unknown, even `nil?` or `$not`.
    if (value === BODY_UNAVAILABLE) return 'the request body is unavailable to policies (body_unavailable)';
    if (value === undefined) {
      const partial = partialityOf(v);
      return partial !== undefined && !partial.known.has(entry.key) ? partial.reason : undefined;
    }
    if (entry.byKeys || typeof value !== 'object') return undefined;
    return partialityOf(value)?.reason;
  };
  const test = (v: unknown, root: unknown): Truth => {
    if (!isMap(v)) return misfit(v);
    let truth: Truth = true;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as (typeof entries)[number];
      const value = get(v, entry.key);
      // Only an absent key or an object value can be unseen: a scalar (the hot path) skips the call.
      const suspect =
        value === undefined || (typeof value === 'object' && !entry.byKeys) || value === BODY_UNAVAILABLE;
      const t =
        suspect && unseen(v, entry, value) !== undefined ? undefined : entry.matcher.test(value, root);
      if (t === false) return false;
      if (t === undefined) truth = undefined;
    }
    return truth;
  };
  return {
    test,
    why(v, root, at) {
      if (test(v, root) === true) return undefined;
      if (!isMap(v))
        return {
          path: at,
          expected: pattern,
          actual: v,
          reason: v === undefined ? 'expected a map' : UNKNOWN_REASON,
        };
      for (const entry of entries) {
        const value = get(v, entry.key);
        const why = unseen(v, entry, value);
        if (why !== undefined) {
          return {
            path: [...at, entry.key],
            expected: pattern[entry.key],
            actual: undefined,
            reason: `${why}: unknown`,
          };
        }
        const miss = entry.matcher.why(value, root, [...at, entry.key]);
        if (miss !== undefined) return miss;
      }
      return undefined;
    },
  };
}

/** A pattern that reads a map only key by key: a non-empty map of plain (non-`$`) keys. */
function readsByKeys(pattern: unknown): boolean {
  if (!isMap(pattern)) return false;
  const keys = Object.keys(pattern);
  return keys.length > 0 && keys.every((key) => !key.startsWith('$'));
}
