import type { RequestContext } from '../context/build.js';
import type { Constraints } from '../engines/rule.js';
import type { CompiledPolicy } from '../policy.js';
import type { Subject } from './policy-set.js';

type Buckets = Map<string, number[]>;
type Dimension = 'uri' | 'type' | 'method';

/**
 * Files each policy (by its rank in id order) under what it requires, so a request is evaluated
 * against the policies that can allow it instead of all of them (issue 6):
 * - linked policies under each linked user / client / operation id;
 * - unlinked ones under one request dimension they constrain — exact URI or URI prefix, FHIR
 *   resource type, or method — picking the one whose buckets are smallest; the rest are
 *   unindexed and always candidates.
 * Constraints are necessary conditions, so a policy left out can only have evaluated false: the
 * first match, and so the decision, is the one a linear scan in id order finds.
 */
export class CandidateIndex {
  private readonly unindexed: number[] = [];
  private readonly byMethod: Buckets = new Map();
  private readonly byType: Buckets = new Map();
  private readonly byUri: Buckets = new Map();
  private readonly byPrefix: Buckets = new Map();
  private readonly prefixLengths: number[];
  private readonly byUser: Buckets = new Map();
  private readonly byClient: Buckets = new Map();
  private readonly byOperation: Buckets = new Map();

  constructor(policies: readonly CompiledPolicy[]) {
    const counts = countValues(policies);
    policies.forEach((policy, rank) => {
      const { links } = policy;
      if (links !== undefined) {
        for (const id of links.users) add(this.byUser, id, rank);
        for (const id of links.clients) add(this.byClient, id, rank);
        for (const id of links.operations) add(this.byOperation, id, rank);
        return;
      }
      this.file(policy.constraints ?? {}, rank, counts);
    });
    this.prefixLengths = [...new Set([...this.byPrefix.keys()].map((p) => p.length))].sort((a, b) => a - b);
  }

  /** Rank lists (each ascending) whose union holds every policy that may allow this request. */
  candidates(ctx: RequestContext, subject: Subject): number[][] {
    const lists: number[][] = [];
    const push = (list: number[] | undefined) => {
      if (list !== undefined) lists.push(list);
    };
    if (this.unindexed.length > 0) lists.push(this.unindexed);
    const method = ctx['request-method'];
    if (typeof method === 'string') push(this.byMethod.get(method));
    const type = resourceType(ctx);
    if (type !== undefined) push(this.byType.get(type));
    const uri = ctx.uri;
    if (typeof uri === 'string') {
      push(this.byUri.get(uri));
      for (const length of this.prefixLengths) {
        if (length > uri.length) break;
        push(this.byPrefix.get(uri.slice(0, length)));
      }
    }
    if (subject.user !== undefined) push(this.byUser.get(subject.user));
    if (subject.client !== undefined) push(this.byClient.get(subject.client));
    if (subject.operation !== undefined) push(this.byOperation.get(subject.operation));
    return lists;
  }

  private file(c: Constraints, rank: number, counts: Counts): void {
    const options: [Dimension, number][] = [];
    if (c.uris) options.push(['uri', cost(c.uris.exact, counts.uri) + cost(c.uris.prefixes, counts.prefix)]);
    if (c.types) options.push(['type', cost(c.types, counts.type)]);
    if (c.methods) options.push(['method', cost(c.methods, counts.method)]);
    if (options.length === 0) {
      this.unindexed.push(rank);
      return;
    }
    // Stable sort keeps the uri → type → method preference among equal costs.
    const [dimension] = options.sort((a, b) => a[1] - b[1])[0] as [Dimension, number];
    if (dimension === 'uri') {
      for (const u of c.uris?.exact ?? []) add(this.byUri, u, rank);
      for (const p of c.uris?.prefixes ?? []) add(this.byPrefix, p, rank);
    } else if (dimension === 'type') {
      for (const t of c.types ?? []) add(this.byType, t, rank);
    } else {
      for (const m of c.methods ?? []) add(this.byMethod, m, rank);
    }
    // A constraint with no possible value (an empty intersection) files the policy nowhere: it can never allow.
  }
}

interface Counts {
  uri: Map<string, number>;
  prefix: Map<string, number>;
  type: Map<string, number>;
  method: Map<string, number>;
}

/** How many unlinked policies name each value, per dimension: the size a bucket would have. */
function countValues(policies: readonly CompiledPolicy[]): Counts {
  const counts: Counts = { uri: new Map(), prefix: new Map(), type: new Map(), method: new Map() };
  const bump = (map: Map<string, number>, values: Iterable<string> | undefined) => {
    for (const v of values ?? []) map.set(v, (map.get(v) ?? 0) + 1);
  };
  for (const { links, constraints: c } of policies) {
    if (links !== undefined || c === undefined) continue;
    bump(counts.uri, c.uris?.exact);
    bump(counts.prefix, c.uris?.prefixes);
    bump(counts.type, c.types);
    bump(counts.method, c.methods);
  }
  return counts;
}

function cost(values: ReadonlySet<string>, counts: Map<string, number>): number {
  let sum = 0;
  for (const v of values) sum += counts.get(v) ?? 0;
  return sum;
}

function add(buckets: Buckets, key: string, rank: number): void {
  const list = buckets.get(key);
  // Ranks arrive in ascending order, so each bucket stays sorted; a repeated value adds nothing.
  if (list === undefined) buckets.set(key, [rank]);
  else if (list[list.length - 1] !== rank) list.push(rank);
}

function resourceType(ctx: RequestContext): string | undefined {
  const params = ctx.params;
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return undefined;
  if (!Object.hasOwn(params, 'resource/type')) return undefined;
  const type = (params as Record<string, unknown>)['resource/type'];
  return typeof type === 'string' ? type : undefined;
}
