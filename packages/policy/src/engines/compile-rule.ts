import type { ExplainEntry } from '@authz/protocol';
import { childPath, type IssueCollector } from '../errors.js';
import { andConstraints, orConstraints } from '../set/constraints.js';
import { compileJsonSchema } from './json-schema.js';
import { compileMatchoRule } from './matcho/rule.js';
import { type CompiledRule, safeEvaluate, safeExplain } from './rule.js';

/** Engines this project runs. */
export const SUPPORTED_ENGINES = ['allow', 'json-schema', 'matcho', 'complex'] as const;
const MEMBERS: Record<string, string | undefined> = {
  schema: 'json-schema',
  matcho: 'matcho',
  and: 'complex',
  or: 'complex',
};
const RULE_KEYS = new Set(['engine', 'description', 'schema', 'matcho', 'and', 'or', 'sql', 'rpc', 'clj']);
const MAX_COMPLEX_DEPTH = 16;
const MAX_RULES = 256;

/** How a rule is being compiled: `lazy` defers ajv code generation; `nested` rules allow only rule keys. */
export interface RuleOptions {
  lazy: boolean;
  depth: number;
}

/**
 * Compiles one rule (a policy's top level, or an entry of `and` / `or`). The engine comes from
 * `engine`, or — as legacy Aidbox policies omit it — from which of `schema`, `matcho`, `and`/`or`
 * is present. Unsupported engines are refused by name; members another engine would need are
 * refused too (an `allow` policy carrying a `matcho` would allow far more than its author meant).
 */
export function compileRule(
  rule: Record<string, unknown>,
  path: string,
  issues: IssueCollector,
  options: RuleOptions,
): CompiledRule {
  const engine = resolveEngine(rule, path, issues);
  if (engine === undefined) return denyAll('invalid');
  for (const [key, owner] of Object.entries(MEMBERS)) {
    if (owner !== engine && owner !== undefined && rule[key] !== undefined) {
      issues.add(
        childPath(path, key),
        `engine ${engine} does not use ${key}; remove it or set engine: ${owner}`,
      );
    }
  }
  switch (engine) {
    case 'allow':
      return allowRule();
    case 'json-schema':
      if (rule.schema === undefined)
        issues.add(childPath(path, 'schema'), 'engine json-schema needs a schema');
      return compileJsonSchema(rule.schema, path, issues, options.lazy);
    case 'matcho':
      if (rule.matcho === undefined)
        issues.add(childPath(path, 'matcho'), 'engine matcho needs a matcho pattern');
      return compileMatchoRule(rule.matcho, path, issues);
    default:
      return compileComplex(rule, path, issues, options);
  }
}

function resolveEngine(
  rule: Record<string, unknown>,
  path: string,
  issues: IssueCollector,
): string | undefined {
  const at = childPath(path, 'engine');
  const { engine } = rule;
  if (engine === undefined) {
    const implied = [
      ...new Set(
        Object.keys(MEMBERS)
          .filter((k) => rule[k] !== undefined)
          .map((k) => MEMBERS[k]),
      ),
    ];
    if (implied.length === 1) return implied[0];
    issues.add(
      at,
      implied.length === 0
        ? 'engine is required: allow, json-schema, matcho or complex'
        : `engine is required when both ${implied.join(' and ')} members are present`,
    );
    return undefined;
  }
  if (typeof engine !== 'string') {
    issues.add(at, 'engine must be a string');
    return undefined;
  }
  if ((SUPPORTED_ENGINES as readonly string[]).includes(engine)) return engine;
  const why =
    engine === 'sql' || engine.endsWith('-rpc') || engine === 'smart-on-fhir' || engine === 'clj'
      ? 'needs Aidbox itself (a database, RPC or SMART runtime)'
      : 'is unknown';
  issues.addUnsupported(
    at,
    `engine "${engine}" is not supported: it ${why}; use allow, json-schema, matcho or complex`,
  );
  return undefined;
}

function compileComplex(
  rule: Record<string, unknown>,
  path: string,
  issues: IssueCollector,
  options: RuleOptions,
): CompiledRule {
  const op = rule.and !== undefined ? 'and' : 'or';
  if (rule.and !== undefined && rule.or !== undefined) {
    issues.add(
      childPath(path, 'or'),
      'and and or cannot be on one level; nest one of them in a rule with engine: complex',
    );
  }
  const list = rule[op];
  const at = childPath(path, op);
  if (options.depth >= MAX_COMPLEX_DEPTH)
    issues.add(at, `complex rules nest at most ${MAX_COMPLEX_DEPTH} levels`);
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RULES) {
    issues.add(at, `engine complex needs and or or: a list of 1 to ${MAX_RULES} rules`);
    return denyAll('complex');
  }
  const children = list.map((child, i) => compileNested(child, childPath(at, i), issues, options));
  const constraints =
    op === 'and'
      ? andConstraints(children.map((c) => c.constraints))
      : orConstraints(children.map((c) => c.constraints));
  const wanted = op !== 'and';
  return {
    engine: 'complex',
    constraints,
    // Short-circuit, top to bottom (Aidbox): `and` stops at the first false, `or` at the first true.
    evaluate(ctx) {
      for (let i = 0; i < children.length; i++)
        if (safeEvaluate(children[i] as CompiledRule, ctx) === wanted) return wanted;
      return !wanted;
    },
    explain(ctx, policy): ExplainEntry {
      const entries: ExplainEntry[] = [];
      for (let i = 0; i < children.length; i++) {
        const entry = safeExplain(children[i] as CompiledRule, ctx, `${policy}.${op}[${i}]`);
        entries.push(entry);
        if (entry.result === wanted) break;
      }
      const result = entries.at(-1)?.result === wanted ? wanted : !wanted;
      const failed = entries.find((e) => !e.result);
      const detail = result
        ? undefined
        : op === 'and'
          ? `${failed?.policy} is false`
          : 'no rule of or is true';
      return { policy, engine: 'complex', result, detail, children: entries };
    },
  };
}

function compileNested(
  child: unknown,
  at: string,
  issues: IssueCollector,
  options: RuleOptions,
): CompiledRule {
  if (child === null || typeof child !== 'object' || Array.isArray(child)) {
    issues.add(at, 'a rule must be a map with an engine');
    return denyAll('invalid');
  }
  for (const key of Object.keys(child)) {
    if (!RULE_KEYS.has(key)) issues.add(childPath(at, key), `unknown rule field ${key}`);
  }
  return compileRule(child as Record<string, unknown>, at, issues, { ...options, depth: options.depth + 1 });
}

function allowRule(): CompiledRule {
  return {
    engine: 'allow',
    constraints: {},
    evaluate: () => true,
    explain: (_ctx, policy) => ({ policy, engine: 'allow', result: true }),
  };
}

function denyAll(engine: string): CompiledRule {
  return {
    engine,
    constraints: {},
    evaluate: () => false,
    explain: (_ctx, policy) => ({ policy, engine, result: false, detail: 'the rule is invalid' }),
  };
}
