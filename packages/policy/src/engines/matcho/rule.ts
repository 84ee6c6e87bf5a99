import type { ExplainEntry } from '@authz/protocol';
import { formatPath } from '../../context/path.js';
import { childPath, type IssueCollector } from '../../errors.js';
import { preview } from '../../explain/preview.js';
import { matchoConstraints } from '../../set/constraints.js';
import type { CompiledRule } from '../rule.js';
import { compileMatcher } from './compile.js';
import { isMap } from './matcher.js';

/** Compiles a `matcho` rule: the pattern is matched against the whole request context. */
export function compileMatchoRule(pattern: unknown, path: string, issues: IssueCollector): CompiledRule {
  const at = childPath(path, 'matcho');
  if (!isMap(pattern)) issues.add(at, 'matcho must be a map of request context keys to patterns');
  const matcher = compileMatcher(pattern, at, issues);
  return {
    engine: 'matcho',
    constraints: matchoConstraints(pattern),
    // Only a definite true allows: false and unknown alike do not (DESIGN §10).
    evaluate: (ctx) => matcher.test(ctx, ctx) === true,
    explain(ctx, policy): ExplainEntry {
      const miss = matcher.why(ctx, ctx, []);
      if (miss === undefined) return { policy, engine: 'matcho', result: true };
      const where = formatPath(miss.path) || '(request)';
      return {
        policy,
        engine: 'matcho',
        result: false,
        detail: `${where}: ${miss.reason}`,
        path: where,
        expected: miss.expected,
        actual: preview(miss.actual, miss.path),
      };
    },
  };
}
