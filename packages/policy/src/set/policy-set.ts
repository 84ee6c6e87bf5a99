import type { ExplainEntry } from '@authz/protocol';
import type { RequestContext } from '../context/build.js';
import type { CompiledPolicy } from '../policy.js';
import { CandidateIndex } from './candidate-index.js';

/** Who is asking, for `link` and `roleName` applicability. */
export interface Subject {
  user?: string;
  client?: string;
  operation?: string;
  /** Names of the roles the user holds. */
  roles: ReadonlySet<string>;
}

/** The outcome of {@link PolicySet.decide}. */
export interface PolicyDecision {
  /** id of the first policy (in id order) that allows; absent when none does. */
  policy?: string;
  /** One entry per candidate evaluated, in order, when explain was asked for. */
  explain?: ExplainEntry[];
  /** Candidates evaluated beyond {@link MAX_EXPLAIN_ENTRIES}, left out of `explain`. */
  explainOmitted?: number;
}

/** Most explain entries one decision carries, bounding the reply (and its NATS payload). */
export const MAX_EXPLAIN_ENTRIES = 256;

const byId = (a: CompiledPolicy, b: CompiledPolicy) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Every AccessPolicy of one configuration revision, ready to decide requests (DESIGN §6 step 5):
 * candidates are the policies without `link` plus those whose `link` names the subject's user,
 * client or operation; `roleName` limits a policy to subjects holding that role; the first
 * candidate in id order that evaluates true allows. A {@link CandidateIndex} keeps the work per
 * request proportional to the policies that can apply, not to all of them.
 *
 * @example
 * const set = new PolicySet(resources.map((r) => compilePolicy(r, { lazy: true })));
 * const { policy } = set.decide(buildRequestContext(request, identity), { user: 'u1', roles: new Set() });
 */
export class PolicySet {
  private readonly policies: readonly CompiledPolicy[];
  private readonly index: CandidateIndex;

  constructor(policies: readonly CompiledPolicy[]) {
    this.policies = [...policies].sort(byId);
    this.index = new CandidateIndex(this.policies);
  }

  /** Number of policies held. */
  get size(): number {
    return this.policies.length;
  }

  /** The first candidate that allows, with explain entries when `options.explain`. */
  decide(ctx: RequestContext, subject: Subject, options?: { explain?: boolean }): PolicyDecision {
    const lists = this.index.candidates(ctx, subject);
    const explain: ExplainEntry[] | undefined = options?.explain ? [] : undefined;
    const decision: PolicyDecision = explain ? { explain } : {};
    // k-way merge of the ascending rank lists: candidates come in id order, each once.
    const heads = new Array<number>(lists.length).fill(0);
    let last = -1;
    for (;;) {
      let pick = -1;
      let rank = Number.POSITIVE_INFINITY;
      for (let i = 0; i < lists.length; i++) {
        const value = (lists[i] as number[])[heads[i] as number];
        if (value !== undefined && value < rank) {
          rank = value;
          pick = i;
        }
      }
      if (pick === -1) return decision;
      heads[pick] = (heads[pick] as number) + 1;
      if (rank === last) continue;
      last = rank;
      const policy = this.policies[rank] as CompiledPolicy;
      if (policy.roleName !== undefined && !subject.roles.has(policy.roleName)) continue;
      const allowed = policy.evaluate(ctx);
      if (explain) record(decision, explain, policy, ctx, allowed);
      if (allowed) {
        decision.policy = policy.id;
        return decision;
      }
    }
  }
}

function record(
  decision: PolicyDecision,
  explain: ExplainEntry[],
  policy: CompiledPolicy,
  ctx: RequestContext,
  allowed: boolean,
): void {
  if (explain.length >= MAX_EXPLAIN_ENTRIES) {
    decision.explainOmitted = (decision.explainOmitted ?? 0) + 1;
    return;
  }
  // The decision follows evaluate(); the entry says why, and never disagrees with it.
  explain.push({ ...policy.explain(ctx), result: allowed });
}
