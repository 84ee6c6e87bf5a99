/**
 * A bounded least-recently-used map over `Map`'s insertion order: a hit moves the entry to the
 * end, an insert past `max` drops the oldest. O(1) per operation, no timers.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly max: number) {
    if (!(max >= 1)) throw new RangeError('an LRU map needs room for at least one entry');
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  /** Drops every entry `stale` says is stale. */
  sweep(stale: (value: V) => boolean): void {
    for (const [key, value] of this.entries) if (stale(value)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
