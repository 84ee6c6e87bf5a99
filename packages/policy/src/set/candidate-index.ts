import type { RequestContext } from '../context/build.js';
import type { Constraints, Pin, Scalar } from '../engines/rule.js';
import type { CompiledPolicy } from '../policy.js';
import type { Subject } from './policy-set.js';

type Buckets<K> = Map<K, number[]>;

/** One pinned context path, and the policies filed under each of its values. */
interface PinDimension {
  path: readonly string[];
  lenient: boolean;
  buckets: Buckets<Scalar>;
  /** Every rank of every bucket, ascending: the candidates when a lenient path cannot be read. */
  all: number[];
}

/** A lenient path crossed a present non-map value: any of its policies may allow. */
const ANY = Symbol('any');

/**
 * Files each policy (by its rank in id order) under what it requires, so a request is evaluated
 * against the policies that can allow it instead of all of them (issue 6):
 * - linked policies under each linked user / client / operation id;
 * - unlinked ones under one thing they require — a context path pinned to values
 *   (`request-method`, `params.resource/type`, `jwt.sub`, …), the URI (exact or prefix), or
 *   `roleName` — picking the one whose buckets hold the fewest policies; the rest are unindexed
 *   and always candidates.
 * Constraints are necessary conditions, so a policy left out can only have evaluated false: the
 * first match, and so the decision, is the one a linear scan in id order finds.
 */
export class CandidateIndex {
  private readonly unindexed: number[] = [];
  private readonly pins = new Map<string, PinDimension>();
  private readonly byUri: Buckets<string> = new Map();
  private readonly byPrefix: Buckets<string> = new Map();
  private readonly prefixLengths: number[];
  private readonly byRole: Buckets<string> = new Map();
  private readonly byUser: Buckets<string> = new Map();
  private readonly byClient: Buckets<string> = new Map();
  private readonly byOperation: Buckets<string> = new Map();

  constructor(policies: readonly CompiledPolicy[]) {
    const counts = countValues(policies);
    policies.forEach((policy, rank) => {
      const { links } = policy;
      if (links === undefined) {
        this.file(policy, rank, counts);
        return;
      }
      for (const id of links.users) add(this.byUser, id, rank);
      for (const id of links.clients) add(this.byClient, id, rank);
      for (const id of links.operations) add(this.byOperation, id, rank);
    });
    this.prefixLengths = [...new Set([...this.byPrefix.keys()].map((p) => p.length))].sort((a, b) => a - b);
    for (const dimension of this.pins.values()) {
      if (dimension.lenient)
        dimension.all = [...new Set([...dimension.buckets.values()].flat())].sort((a, b) => a - b);
    }
  }

  /** Rank lists (each ascending) whose union holds every policy that may allow this request. */
  candidates(ctx: RequestContext, subject: Subject): number[][] {
    const lists: number[][] = [];
    const push = (list: number[] | undefined) => {
      if (list !== undefined) lists.push(list);
    };
    if (this.unindexed.length > 0) lists.push(this.unindexed);
    for (const dimension of this.pins.values()) {
      const value = dimension.lenient ? resolveLenient(ctx, dimension.path) : resolve(ctx, dimension.path);
      if (value === ANY) push(dimension.all);
      else if (value !== undefined) push(dimension.buckets.get(value));
    }
    const uri = Object.hasOwn(ctx, 'uri') ? ctx.uri : undefined;
    if (typeof uri === 'string') {
      push(this.byUri.get(uri));
      for (const length of this.prefixLengths) {
        if (length > uri.length) break;
        push(this.byPrefix.get(uri.slice(0, length)));
      }
    }
    if (this.byRole.size > 0) for (const role of subject.roles) push(this.byRole.get(role));
    if (subject.user !== undefined) push(this.byUser.get(subject.user));
    if (subject.client !== undefined) push(this.byClient.get(subject.client));
    if (subject.operation !== undefined) push(this.byOperation.get(subject.operation));
    return lists;
  }

  private file(policy: CompiledPolicy, rank: number, counts: Counts): void {
    const c: Constraints = policy.constraints ?? {};
    const { roleName } = policy;
    // Pick the cheapest dimension without allocating: on ties, role, then URI, then pins in order.
    let bestCost = Number.POSITIVE_INFINITY;
    let best: 'role' | 'uri' | string | undefined;
    if (roleName !== undefined) {
      bestCost = counts.role.get(roleName) ?? 0;
      best = 'role';
    }
    if (c.uris) {
      const cost = sum(c.uris.exact, counts.uri) + sum(c.uris.prefixes, counts.prefix);
      if (cost < bestCost) {
        bestCost = cost;
        best = 'uri';
      }
    }
    if (c.pins) {
      for (const pin of c.pins.values()) {
        const cost = sum(pin.values, counts.pins.get(pin.key));
        if (cost < bestCost) {
          bestCost = cost;
          best = pin.key;
        }
      }
    }
    if (best === undefined) {
      this.unindexed.push(rank);
    } else if (best === 'role') {
      add(this.byRole, roleName as string, rank);
    } else if (best === 'uri') {
      for (const u of c.uris?.exact ?? []) add(this.byUri, u, rank);
      for (const p of c.uris?.prefixes ?? []) add(this.byPrefix, p, rank);
    } else {
      this.filePin(best, c.pins?.get(best) as Pin, rank);
    }
    // A constraint with no possible value (an empty intersection) files the policy nowhere: it can never allow.
  }

  private filePin(key: string, pin: Pin, rank: number): void {
    let dimension = this.pins.get(key);
    if (dimension === undefined) {
      dimension = { path: pin.path, lenient: pin.lenient === true, buckets: new Map(), all: [] };
      this.pins.set(key, dimension);
    }
    for (const value of pin.values) add(dimension.buckets, value, rank);
  }
}

/** How many unlinked policies require each value, per dimension: the size a bucket would have. */
interface Counts {
  role: Map<string, number>;
  uri: Map<string, number>;
  prefix: Map<string, number>;
  pins: Map<string, Map<Scalar, number>>;
}

function countValues(policies: readonly CompiledPolicy[]): Counts {
  const counts: Counts = { role: new Map(), uri: new Map(), prefix: new Map(), pins: new Map() };
  for (const { links, constraints: c, roleName } of policies) {
    if (links !== undefined) continue;
    if (roleName !== undefined) bump(counts.role, roleName);
    if (c === undefined) continue;
    if (c.uris) {
      for (const u of c.uris.exact) bump(counts.uri, u);
      for (const p of c.uris.prefixes) bump(counts.prefix, p);
    }
    if (c.pins) {
      for (const pin of c.pins.values()) {
        let values = counts.pins.get(pin.key);
        if (values === undefined) {
          values = new Map<Scalar, number>();
          counts.pins.set(pin.key, values);
        }
        for (const v of pin.values) bump(values, v);
      }
    }
  }
  return counts;
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function sum<K>(values: Iterable<K>, counts: Map<K, number> | undefined): number {
  let total = 0;
  for (const v of values) total += counts?.get(v) ?? 0;
  return total;
}

function add<K>(buckets: Buckets<K>, key: K, rank: number): void {
  const list = buckets.get(key);
  // Ranks arrive in ascending order, so each bucket stays sorted; a repeated value adds nothing.
  if (list === undefined) buckets.set(key, [rank]);
  else if (list[list.length - 1] !== rank) list.push(rank);
}

/** The scalar at `path` (own properties only, as matcho reads them), else `undefined`. */
function resolve(ctx: RequestContext, path: readonly string[]): Scalar | undefined {
  let at: unknown = ctx;
  for (let i = 0; i < path.length; i++) {
    if (at === null || typeof at !== 'object' || Array.isArray(at)) return undefined;
    const key = path[i] as string;
    if (!Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return typeof at === 'string' || typeof at === 'number' || typeof at === 'boolean' ? at : undefined;
}

/**
 * The scalar at `path` as ajv reads it for `required` + `properties`: plain property access, and a
 * present value that is not a map on the way makes the rest of the schema vacuous ({@link ANY}).
 */
function resolveLenient(ctx: RequestContext, path: readonly string[]): Scalar | undefined | typeof ANY {
  let at: unknown = ctx;
  for (let i = 0; i < path.length; i++) {
    if (at === undefined) return undefined;
    if (at === null || typeof at !== 'object' || Array.isArray(at)) return ANY;
    at = (at as Record<string, unknown>)[path[i] as string];
  }
  return typeof at === 'string' || typeof at === 'number' || typeof at === 'boolean' ? at : undefined;
}
