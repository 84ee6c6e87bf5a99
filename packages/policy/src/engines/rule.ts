import type { ExplainEntry } from '@authz/protocol';
import type { RequestContext } from '../context/build.js';

/**
 * What a rule requires of the request, whatever else it checks: the candidate index files a policy
 * under these so it is evaluated only for requests that can satisfy them. Each field is a necessary
 * condition (`undefined`: no constraint): `methods` — `request-method` is one of them; `types` —
 * `params.resource/type` is one of them; `uris` — `uri` equals one of `uris.exact` or starts with
 * one of `uris.prefixes`.
 */
export interface Constraints {
  methods?: ReadonlySet<string>;
  types?: ReadonlySet<string>;
  uris?: { exact: ReadonlySet<string>; prefixes: ReadonlySet<string> };
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
