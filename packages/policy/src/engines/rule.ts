import type { ExplainEntry } from '@authz/protocol';
import type { RequestContext } from '../context/build.js';

/** A JSON scalar a context value can be pinned to. */
export type Scalar = string | number | boolean;

/**
 * A context path (`['params', 'resource/type']`) whose value must be one of `values`. `lenient`
 * (json-schema): an intermediate value that is present but not a map satisfies the rule, since
 * JSON Schema's `required` and `properties` say nothing about non-objects; matcho needs maps.
 */
export interface Pin {
  /** {@link pinKey} of `path` and `lenient`. */
  readonly key: string;
  readonly path: readonly string[];
  readonly values: ReadonlySet<Scalar>;
  readonly lenient?: boolean;
}

/**
 * What a rule requires of the request, whatever else it checks: the candidate index files a policy
 * under one of these so it is evaluated only for requests that can satisfy it. Each is a necessary
 * condition: `pins` — each keyed path (see {@link pinKey}) holds one of its values (`request-method`
 * ∈ {get, post}, `params.resource/type` ∈ {Patient}, `jwt.sub` ∈ {…}); `uris` — `uri` equals one
 * of `exact` or starts with one of `prefixes`. Absent: no constraint.
 */
export interface Constraints {
  pins?: ReadonlyMap<string, Pin>;
  uris?: { exact: ReadonlySet<string>; prefixes: ReadonlySet<string> };
}

/** The map key of a pinned path: unambiguous whatever the keys contain. */
export function pinKey(path: readonly string[], lenient = false): string {
  return lenient ? `~${JSON.stringify(path)}` : JSON.stringify(path);
}

/** A compiled rule of any engine: a policy's top level or one entry of `and` / `or`. */
export interface CompiledRule {
  readonly engine: string;
  readonly constraints: Constraints;
  /** May throw (a regex subject too long, a deferred compile error): callers fail closed. */
  evaluate(ctx: RequestContext): boolean;
  /** Why the rule holds or not; `policy` names the rule (`p1`, `p1.and[0]`). */
  explain(ctx: RequestContext, policy: string): ExplainEntry;
}

/** The rule's verdict as an explain entry, turning a thrown evaluation into a failed one. */
export function safeExplain(rule: CompiledRule, ctx: RequestContext, policy: string): ExplainEntry {
  try {
    return rule.explain(ctx, policy);
  } catch (err) {
    return {
      policy,
      engine: rule.engine,
      result: false,
      detail: `evaluation failed closed: ${(err as Error).message}`,
    };
  }
}

/** Evaluates a rule, failing closed (false) on any error: never allow on an internal error. */
export function safeEvaluate(rule: CompiledRule, ctx: RequestContext): boolean {
  try {
    return rule.evaluate(ctx) === true;
  } catch {
    return false;
  }
}
