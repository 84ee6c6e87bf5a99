import { childPath, type IssueCollector } from '../../errors.js';
import {
  leaf,
  type Matcher,
  type MatchPath,
  type Mismatch,
  misfit,
  scalarLeaf,
  type Truth,
  UNKNOWN_REASON,
} from './matcher.js';

/** Compiles a nested pattern (supplied by compile.ts, which owns the recursion and depth limit). */
export type CompileNested = (pattern: unknown, path: string) => Matcher;

/** The `$` operators of Aidbox's matcho DSL. */
export const OPERATORS = [
  '$enum',
  '$one-of',
  '$contains',
  '$every',
  '$not',
  '$reference',
  '$present-all',
  '$length',
] as const;
export type Operator = (typeof OPERATORS)[number];

export function isOperator(key: string): key is Operator {
  return (OPERATORS as readonly string[]).includes(key);
}

/** Compiles one `$` operator whose argument is `arg`; issues name `path` (e.g. `matcho.x.$enum`). */
export function compileOperator(
  op: Operator,
  arg: unknown,
  path: string,
  issues: IssueCollector,
  nested: CompileNested,
): Matcher | undefined {
  const pattern = { [op]: arg };
  switch (op) {
    case '$enum':
      return enumOf(pattern, arg, path, issues);
    case '$length':
      if (typeof arg !== 'number' || !Number.isInteger(arg) || arg < 0) {
        issues.add(path, '$length must be a non-negative integer');
        return undefined;
      }
      return leaf(
        pattern,
        (v) => (Array.isArray(v) ? v.length === arg : misfit(v)),
        `expected a list of ${arg} items`,
      );
    case '$one-of':
    case '$present-all': {
      const list = patternList(arg, path, issues);
      if (list === undefined) return undefined;
      const parts = list.map((item, i) => nested(item, childPath(path, i)));
      return op === '$one-of' ? oneOf(pattern, parts) : presentAll(list, parts);
    }
    default:
      return unary(op, pattern, nested(arg, path));
  }
}

function enumOf(pattern: unknown, arg: unknown, path: string, issues: IssueCollector): Matcher | undefined {
  if (!Array.isArray(arg) || arg.length === 0) {
    issues.add(path, '$enum must be a non-empty list of strings, numbers or booleans');
    return undefined;
  }
  arg.forEach((item, i) => {
    if (!['string', 'number', 'boolean'].includes(typeof item)) {
      issues.add(childPath(path, i), '$enum items must be strings, numbers or booleans');
    }
  });
  const values = new Set<unknown>(arg);
  return scalarLeaf(pattern, (v) => values.has(v), 'expected one of the $enum values');
}

function patternList(arg: unknown, path: string, issues: IssueCollector): unknown[] | undefined {
  if (Array.isArray(arg) && arg.length > 0) return arg;
  issues.add(path, 'expected a non-empty list of patterns');
  return undefined;
}

function oneOf(pattern: unknown, parts: Matcher[]): Matcher {
  return leaf(
    pattern,
    (v, root) => anyOf(parts.length, (i) => (parts[i] as Matcher).test(v, root)),
    `matched none of the ${parts.length} $one-of alternatives`,
  );
}

function presentAll(list: unknown[], parts: Matcher[]): Matcher {
  const found = (part: Matcher, v: unknown[], root: unknown) => anyOf(v.length, (i) => part.test(v[i], root));
  const test = (v: unknown, root: unknown): Truth =>
    Array.isArray(v) ? everyOf(parts.length, (i) => found(parts[i] as Matcher, v, root)) : misfit(v);
  return {
    test,
    why(v, root, path): Mismatch | undefined {
      if (test(v, root) === true) return undefined;
      if (!Array.isArray(v))
        return {
          path,
          expected: { '$present-all': list },
          actual: v,
          reason: v === undefined ? 'expected a list' : UNKNOWN_REASON,
        };
      const missing = parts.findIndex((part) => found(part, v, root) !== true);
      return {
        path,
        expected: list[missing],
        actual: v,
        reason: 'no item of the list matches this $present-all pattern',
      };
    },
  };
}

function unary(op: Operator, pattern: unknown, inner: Matcher): Matcher {
  switch (op) {
    case '$not':
      // Kleene negation: unknown stays unknown (DESIGN §10). Aidbox's matcho negates a plain
      // boolean, so `$not` of a pattern that failed on an unexpected shape allows there.
      return leaf(
        pattern,
        (v, root) => {
          const t = inner.test(v, root);
          return t === undefined ? undefined : !t;
        },
        'matched a pattern under $not',
      );
    case '$contains':
      return leaf(
        pattern,
        (v, root) => (Array.isArray(v) ? anyOf(v.length, (i) => inner.test(v[i], root)) : misfit(v)),
        'expected a list with at least one item matching $contains',
      );
    case '$every':
      return every(pattern, inner);
    default:
      return reference(inner);
  }
}

function every(pattern: unknown, inner: Matcher): Matcher {
  const test = (v: unknown, root: unknown): Truth =>
    Array.isArray(v) ? everyOf(v.length, (i) => inner.test(v[i], root)) : misfit(v);
  return {
    test,
    why(v, root, path) {
      if (test(v, root) === true) return undefined;
      if (!Array.isArray(v))
        return {
          path,
          expected: pattern,
          actual: v,
          reason: v === undefined ? 'expected a list for $every' : UNKNOWN_REASON,
        };
      const i = v.findIndex((item) => inner.test(item, root) !== true);
      return inner.why(v[i], root, [...path, i]);
    },
  };
}

/** `$reference`: a `Type/id` string or `{reference}` becomes `{resourceType, id}` before matching. */
function reference(inner: Matcher): Matcher {
  return {
    test(v, root) {
      const parsed = parseReference(v);
      return parsed === undefined ? misfit(v) : inner.test(parsed, root);
    },
    why(v, root, path: MatchPath) {
      const parsed = parseReference(v);
      if (parsed === undefined && v !== undefined)
        return { path, expected: '$reference', actual: v, reason: UNKNOWN_REASON };
      return inner.why(parsed, root, path);
    },
  };
}

/** Kleene or over `n` truths: true if any is, else unknown if any is, else false. */
function anyOf(n: number, truth: (i: number) => Truth): Truth {
  let result: Truth = false;
  for (let i = 0; i < n; i++) {
    const t = truth(i);
    if (t === true) return true;
    if (t === undefined) result = undefined;
  }
  return result;
}

/** Kleene and over `n` truths: false if any is, else unknown if any is, else true. */
function everyOf(n: number, truth: (i: number) => Truth): Truth {
  let result: Truth = true;
  for (let i = 0; i < n; i++) {
    const t = truth(i);
    if (t === false) return false;
    if (t === undefined) result = undefined;
  }
  return result;
}

/**
 * Aidbox's reference parsing: `"Patient/pt-1"`, `{reference: "Patient/pt-1"}`, absolute URLs and
 * `…/_history/2` all give `{resourceType: "Patient", id: "pt-1"}`; an Aidbox-format `{id,
 * resourceType}` passes through. Anything else gives `undefined`.
 */
export function parseReference(value: unknown): { resourceType: string; id: string } | undefined {
  let ref = value;
  if (ref !== null && typeof ref === 'object' && !Array.isArray(ref)) {
    const map = ref as Record<string, unknown>;
    if (typeof map.reference !== 'string') {
      return typeof map.id === 'string' && typeof map.resourceType === 'string'
        ? { resourceType: map.resourceType, id: map.id }
        : undefined;
    }
    ref = map.reference;
  }
  if (typeof ref !== 'string') return undefined;
  const segments = ref.split('/');
  let end = segments.length;
  if (segments[end - 2] === '_history') end -= 2;
  const resourceType = segments[end - 2];
  const id = segments[end - 1];
  return resourceType && id ? { resourceType, id } : undefined;
}
