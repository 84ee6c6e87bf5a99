/** Something with an id and an order key that follows id order. */
export interface Ordered {
  readonly id: string;
  /** Ascending with `id`; reassigned (order kept) when keys run out between two neighbours. */
  order: number;
}

/** Distance between order keys after a renumbering: room for ~40 inserts at one spot. */
const GAP = 1 << 20;

/**
 * Every item in id order, each with a numeric order key, so the candidate index can keep its
 * buckets sorted and merge them with number comparisons. An insert takes a key between its
 * neighbours' (buckets elsewhere keep theirs), so adding or removing one policy never renumbers
 * what the index holds; only when two neighbours' keys are adjacent doubles are all keys
 * reassigned, in place and in the same order, which keeps every bucket sorted.
 */
export class IdOrder<T extends Ordered> {
  /**
   * @param sorted the items ascending by id, ids unique (owned from now on)
   * @param byId the same items by id (owned from now on)
   */
  constructor(
    private readonly sorted: T[],
    private readonly byId: Map<string, T>,
  ) {
    for (let i = 0; i < sorted.length; i++) (sorted[i] as T).order = i * GAP;
  }

  get size(): number {
    return this.sorted.length;
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  /** Items in id order (do not modify). */
  items(): readonly T[] {
    return this.sorted;
  }

  /** Adds an item whose id is not held, giving it an order key between its neighbours'. */
  insert(item: T): void {
    const at = this.position(item.id);
    this.sorted.splice(at, 0, item);
    this.byId.set(item.id, item);
    if (!this.assignOrder(at)) {
      for (let i = 0; i < this.sorted.length; i++) (this.sorted[i] as T).order = i * GAP;
    }
  }

  /** Puts `item` in the place of the held item with its id, keeping that item's order key. */
  replace(previous: T, item: T): void {
    item.order = previous.order;
    this.sorted[this.indexOf(previous)] = item;
    this.byId.set(item.id, item);
  }

  remove(item: T): void {
    this.sorted.splice(this.indexOf(item), 1);
    this.byId.delete(item.id);
  }

  /** Gives the item at `at` a key strictly between its neighbours'; false when none is left. */
  private assignOrder(at: number): boolean {
    const item = this.sorted[at] as T;
    const before = this.sorted[at - 1]?.order;
    const after = this.sorted[at + 1]?.order;
    if (before === undefined && after === undefined) item.order = 0;
    else if (after === undefined) item.order = (before as number) + GAP;
    else if (before === undefined) item.order = after - GAP;
    else item.order = before + (after - before) / 2;
    // Doubles run out of room between close keys (or far from zero): detect it rather than compute it.
    return (before === undefined || item.order > before) && (after === undefined || item.order < after);
  }

  /** Index of the first held item whose id is not below `id`. */
  private position(id: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sorted[mid] as T).id < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexOf(item: T): number {
    const at = sortedIndex(this.sorted, item.order);
    if (this.sorted[at] !== item) throw new Error(`policy ${item.id} is not held`);
    return at;
  }
}

/** Index of the first element of `list` (ascending by order) whose order is not below `order`. */
export function sortedIndex(list: readonly Ordered[], order: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as Ordered).order < order) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Adds `item` to `list` (ascending by order) where it belongs; nothing when it is there already. */
export function insertSorted<T extends Ordered>(list: T[], item: T): void {
  const last = list[list.length - 1];
  if (last === undefined || last.order < item.order) {
    list.push(item);
    return;
  }
  const at = sortedIndex(list, item.order);
  if (list[at] !== item) list.splice(at, 0, item);
}

/** Removes `item` from `list` (ascending by order); true when it was there. */
export function removeSorted<T extends Ordered>(list: T[], item: T): boolean {
  const at = sortedIndex(list, item.order);
  if (list[at] !== item) return false;
  list.splice(at, 1);
  return true;
}
