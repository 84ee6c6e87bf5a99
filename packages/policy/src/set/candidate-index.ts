import type { RequestContext } from '../context/build.js';
import type { Pin, Scalar } from '../engines/rule.js';
import type { CompiledPolicy } from '../policy.js';
import { ANY, resolve, resolveLenient } from './lookup.js';
import { insertSorted, type Ordered, removeSorted } from './order.js';
import { type FilingPlan, PREFIX_TABLE, planOf, ROLE_TABLE, URI_TABLE } from './plan.js';
import type { Subject } from './policy-set.js';

/** A policy as the index holds it: its filing plan and where it is filed. */
export interface Entry extends Ordered {
  readonly policy: CompiledPolicy;
  readonly plan: FilingPlan;
  /** The slot of each cell of the plan (unlinked policies, once added). */
  slots: Slot[];
  /** The option the policy is filed under, or {@link UNINDEXED}. */
  filed: number;
}

/** A new entry for `policy`, its plan derived once per compiled policy. */
export function entryOf(policy: CompiledPolicy): Entry {
  return { id: policy.id, order: 0, policy, plan: planOf(policy), slots: [], filed: UNINDEXED };
}

const UNINDEXED = -1;

/** One value of one table: how many policies require it, and the ones filed under it. */
interface Slot {
  readonly table: Table;
  readonly value: Scalar;
  /** Unlinked policies with this value in any of their options: the size this bucket would have if all were filed here. */
  count: number;
  /** The policies filed under this value, ascending by order (allocated on first use). */
  entries: Entry[] | undefined;
}

interface Table {
  readonly key: string;
  /** Path and leniency of a pin table. */
  readonly pin?: Pin;
  readonly slots: Map<Scalar, Slot>;
  /** Slots with at least one entry. */
  nonEmpty: number;
  /** Lenient pin tables: every entry filed in the table, ascending (candidates when the path cannot be read). */
  readonly all: Entry[];
}

/**
 * Files each policy under what it requires, so a request is evaluated against the policies that
 * can allow it instead of all of them (issue 6):
 * - linked policies under each linked user / client / operation id;
 * - unlinked ones under one thing they require — a context path pinned to values
 *   (`request-method`, `params.resource/type`, `jwt.sub`, …), the URI (exact or prefix), or
 *   `roleName` — picking the one whose buckets would hold the fewest policies; the rest are
 *   unindexed and always candidates.
 * Constraints are necessary conditions, so a policy left out can only have evaluated false: the
 * first match, and so the decision, is the one a linear scan in id order finds.
 *
 * Policies are added and removed one at a time, in time proportional to the buckets they touch.
 * An added policy chooses with the counts of the moment; when a value's count doubles, the
 * policies filed under it choose again. So while policies are only added (a set loaded one at a
 * time), each is filed where its buckets hold less than twice what its cheapest option's would.
 * Removals never move other policies: no bucket grows, some may stay larger than a one-pass build
 * would make them.
 */
export class CandidateIndex {
  private readonly unindexed: Entry[] = [];
  private readonly tables = new Map<string, Table>();
  private readonly roles = this.table(ROLE_TABLE);
  private readonly uris = this.table(URI_TABLE);
  private readonly prefixes = this.table(PREFIX_TABLE);
  /** Pin tables with a filed policy: the paths each request is looked up by. */
  private readonly pinTables: Table[] = [];
  /** Non-empty prefix slots per prefix length, and those lengths ascending. */
  private readonly prefixLengthCounts = new Map<number, number>();
  private prefixLengths: number[] = [];
  private readonly byUser = new Map<string, Entry[]>();
  private readonly byClient = new Map<string, Entry[]>();
  private readonly byOperation = new Map<string, Entry[]>();

  /** Indexes `entries` (ascending by order) in one pass: counts first, then each filed once. */
  constructor(entries: readonly Entry[] = []) {
    for (const entry of entries) if (entry.plan.links === undefined) this.count(entry, false);
    for (const entry of entries) {
      if (entry.plan.links !== undefined) this.link(entry, true);
      else this.file(entry, cheapest(entry), true);
    }
  }

  /** Adds one policy (its order key set, not held yet). */
  add(entry: Entry): void {
    if (entry.plan.links !== undefined) {
      this.link(entry, true);
      return;
    }
    const doubled = this.count(entry, true);
    this.file(entry, cheapest(entry), false);
    if (doubled !== undefined) for (const slot of doubled) this.refile(slot);
  }

  /** Removes one held policy. */
  remove(entry: Entry): void {
    if (entry.plan.links !== undefined) {
      this.link(entry, false);
      return;
    }
    this.unfile(entry);
    for (const slot of entry.slots) {
      if (--slot.count > 0) continue;
      const { table } = slot;
      table.slots.delete(slot.value);
      if (table.pin !== undefined && table.slots.size === 0) this.tables.delete(table.key);
    }
  }

  /** Entry lists (each ascending by order) whose union holds every policy that may allow this request. */
  candidates(ctx: RequestContext, subject: Subject): Entry[][] {
    const lists: Entry[][] = [];
    const push = (list: Entry[] | undefined) => {
      if (list !== undefined && list.length > 0) lists.push(list);
    };
    push(this.unindexed);
    for (const table of this.pinTables) {
      const { path, lenient } = table.pin as Pin;
      const value = lenient ? resolveLenient(ctx, path) : resolve(ctx, path);
      if (value === ANY) push(table.all);
      else if (value !== undefined) push(table.slots.get(value)?.entries);
    }
    const uri = Object.hasOwn(ctx, 'uri') ? ctx.uri : undefined;
    if (typeof uri === 'string') {
      push(this.uris.slots.get(uri)?.entries);
      for (const length of this.prefixLengths) {
        if (length > uri.length) break;
        push(this.prefixes.slots.get(uri.slice(0, length))?.entries);
      }
    }
    if (this.roles.nonEmpty > 0) for (const role of subject.roles) push(this.roles.slots.get(role)?.entries);
    if (subject.user !== undefined) push(this.byUser.get(subject.user));
    if (subject.client !== undefined) push(this.byClient.get(subject.client));
    if (subject.operation !== undefined) push(this.byOperation.get(subject.operation));
    return lists;
  }

  /** What the index holds beyond its policies: lets tests prove removed policies leave nothing behind. */
  footprint(): { tables: number; slots: number; pinTables: number; prefixLengths: number; links: number } {
    let slots = 0;
    for (const table of this.tables.values()) slots += table.slots.size;
    return {
      tables: this.tables.size,
      slots,
      pinTables: this.pinTables.length,
      prefixLengths: this.prefixLengths.length,
      links: this.byUser.size + this.byClient.size + this.byOperation.size,
    };
  }

  /** Counts the entry in the slot of each of its cells; returns the filled slots whose count just doubled. */
  private count(entry: Entry, watch: boolean): Slot[] | undefined {
    let doubled: Slot[] | undefined;
    const { tables, values, ends, pins } = entry.plan;
    const slots = new Array<Slot>(tables.length);
    let cell = 0;
    for (let o = 0; o < ends.length; o++) {
      const pin = pins[o];
      for (const end = ends[o] as number; cell < end; cell++) {
        const slot = this.slot(tables[cell] as string, values[cell] as Scalar, pin);
        const n = ++slot.count;
        if (watch && (n & (n - 1)) === 0 && slot.entries !== undefined) {
          doubled ??= [];
          doubled.push(slot);
        }
        slots[cell] = slot;
      }
    }
    entry.slots = slots;
    return doubled;
  }

  /** Lets the policies filed under `slot` (whose count doubled) move to a now cheaper option. */
  private refile(slot: Slot): void {
    for (const entry of [...(slot.entries ?? [])]) {
      const best = cheapest(entry);
      if (best === entry.filed) continue;
      this.unfile(entry);
      this.file(entry, best, false);
    }
  }

  private file(entry: Entry, option: number, append: boolean): void {
    entry.filed = option;
    if (option === UNINDEXED) {
      place(this.unindexed, entry, append);
      return;
    }
    // An option without cells (an empty intersection) files the policy nowhere: it can never allow.
    const { ends } = entry.plan;
    for (let cell = ends[option - 1] ?? 0; cell < (ends[option] as number); cell++) {
      const slot = entry.slots[cell] as Slot;
      if (slot.entries === undefined) slot.entries = [entry];
      else place(slot.entries, entry, append);
      if (slot.entries.length === 1) this.filled(slot, true);
    }
    const lenient = lenientTable(entry, option);
    if (lenient !== undefined) place(lenient.all, entry, append);
  }

  private unfile(entry: Entry): void {
    const option = entry.filed;
    if (option === UNINDEXED) {
      removeSorted(this.unindexed, entry);
      return;
    }
    const { ends } = entry.plan;
    for (let cell = ends[option - 1] ?? 0; cell < (ends[option] as number); cell++) {
      const slot = entry.slots[cell] as Slot;
      if (slot.entries !== undefined && removeSorted(slot.entries, entry) && slot.entries.length === 0) {
        slot.entries = undefined;
        this.filled(slot, false);
      }
    }
    const lenient = lenientTable(entry, option);
    if (lenient !== undefined) removeSorted(lenient.all, entry);
  }

  /** Keeps the per-request lookups (pin tables, prefix lengths) to tables and lengths with policies. */
  private filled(slot: Slot, filled: boolean): void {
    const { table } = slot;
    table.nonEmpty += filled ? 1 : -1;
    if (table.pin !== undefined) {
      if (filled && table.nonEmpty === 1) this.pinTables.push(table);
      if (!filled && table.nonEmpty === 0) this.pinTables.splice(this.pinTables.indexOf(table), 1);
    } else if (table === this.prefixes) {
      const length = (slot.value as string).length;
      const n = (this.prefixLengthCounts.get(length) ?? 0) + (filled ? 1 : -1);
      if (n > 0) this.prefixLengthCounts.set(length, n);
      else this.prefixLengthCounts.delete(length);
      if (n === (filled ? 1 : 0))
        this.prefixLengths = [...this.prefixLengthCounts.keys()].sort((a, b) => a - b);
    }
  }

  private link(entry: Entry, add: boolean): void {
    const links = entry.plan.links;
    if (links === undefined) return;
    for (const id of links.users) linkTo(this.byUser, id, entry, add);
    for (const id of links.clients) linkTo(this.byClient, id, entry, add);
    for (const id of links.operations) linkTo(this.byOperation, id, entry, add);
  }

  private slot(key: string, value: Scalar, pin: Pin | undefined): Slot {
    const table = this.tables.get(key) ?? this.table(key, pin);
    let slot = table.slots.get(value);
    if (slot === undefined) {
      slot = { table, value, count: 0, entries: undefined };
      table.slots.set(value, slot);
    }
    return slot;
  }

  private table(key: string, pin?: Pin): Table {
    const table: Table = { key, pin, slots: new Map(), nonEmpty: 0, all: [] };
    this.tables.set(key, table);
    return table;
  }
}

/** The option whose buckets would hold the fewest policies (tie: the first), else unindexed. */
function cheapest(entry: Entry): number {
  const { ends } = entry.plan;
  let best = UNINDEXED;
  let bestCost = Number.POSITIVE_INFINITY;
  let cell = 0;
  for (let o = 0; o < ends.length; o++) {
    let cost = 0;
    for (const end = ends[o] as number; cell < end; cell++) cost += (entry.slots[cell] as Slot).count;
    if (cost < bestCost) {
      bestCost = cost;
      best = o;
    }
  }
  return best;
}

/** The table of a lenient pin option with cells: such tables also list every policy filed in them. */
function lenientTable(entry: Entry, option: number): Table | undefined {
  const { ends, pins } = entry.plan;
  const start = ends[option - 1] ?? 0;
  return pins[option]?.lenient && start < (ends[option] as number)
    ? (entry.slots[start] as Slot).table
    : undefined;
}

/** Appends (one-pass build, entries arrive ascending) or inserts in order. */
function place(list: Entry[], entry: Entry, append: boolean): void {
  if (append) list.push(entry);
  else insertSorted(list, entry);
}

function linkTo(buckets: Map<string, Entry[]>, id: string, entry: Entry, add: boolean): void {
  const list = buckets.get(id);
  if (add) {
    if (list === undefined) buckets.set(id, [entry]);
    else insertSorted(list, entry);
  } else if (list !== undefined && removeSorted(list, entry) && list.length === 0) {
    buckets.delete(id);
  }
}
