import { childPath, type IssueCollector } from '../../errors.js';
import { leaf, type Matcher, type MatchPath, type Mismatch } from './matcher.js';

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
      return leaf(pattern, (v) => Array.isArray(v) && v.length === arg, `expected a list of ${arg} items`);
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
  return leaf(pattern, (v) => values.has(v), 'expected one of the $enum values');
}

function patternList(arg: unknown, path: string, issues: IssueCollector): unknown[] | undefined {
  if (Array.isArray(arg) && arg.length > 0) return arg;
  issues.add(path, 'expected a non-empty list of patterns');
  return undefined;
}

function oneOf(pattern: unknown, parts: Matcher[]): Matcher {
  return leaf(
    pattern,
    (v, root) => {
      for (let i = 0; i < parts.length; i++) if ((parts[i] as Matcher).test(v, root)) return true;
      return false;
    },
    `matched none of the ${parts.length} $one-of alternatives`,
  );
}

function presentAll(list: unknown[], parts: Matcher[]): Matcher {
  const test = (v: unknown, root: unknown) =>
    Array.isArray(v) && parts.every((part) => v.some((item) => part.test(item, root)));
  return {
    test,
    why(v, root, path): Mismatch | undefined {
      if (test(v, root)) return undefined;
      if (!Array.isArray(v))
        return { path, expected: { '$present-all': list }, actual: v, reason: 'expected a list' };
      const missing = parts.findIndex((part) => !v.some((item) => part.test(item, root)));
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
      return leaf(pattern, (v, root) => !inner.test(v, root), 'matched a pattern under $not');
    case '$contains':
      return leaf(
        pattern,
        (v, root) => Array.isArray(v) && v.some((item) => inner.test(item, root)),
        'expected a list with at least one item matching $contains',
      );
    case '$every':
      return every(pattern, inner);
    default:
      return reference(inner);
  }
}

function every(pattern: unknown, inner: Matcher): Matcher {
  const test = (v: unknown, root: unknown) => Array.isArray(v) && v.every((item) => inner.test(item, root));
  return {
    test,
    why(v, root, path) {
      if (test(v, root)) return undefined;
      if (!Array.isArray(v))
        return { path, expected: pattern, actual: v, reason: 'expected a list for $every' };
      const i = v.findIndex((item) => !inner.test(item, root));
      return inner.why(v[i], root, [...path, i]);
    },
  };
}

/** `$reference`: a `Type/id` string or `{reference}` becomes `{resourceType, id}` before matching. */
function reference(inner: Matcher): Matcher {
  return {
    test: (v, root) => inner.test(parseReference(v), root),
    why: (v, root, path: MatchPath) => inner.why(parseReference(v), root, path),
  };
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
