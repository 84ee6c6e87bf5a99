import { describe, expect, it } from 'vitest';
import { IdOrder, insertSorted, type Ordered, removeSorted } from './order.js';

const item = (id: string): Ordered => ({ id, order: 0 });
function ordered(ids: string[]): IdOrder<Ordered> {
  const items = ids.map(item);
  return new IdOrder(items, new Map(items.map((i) => [i.id, i])));
}

function expectConsistent(order: IdOrder<Ordered>): void {
  const items = order.items();
  for (let i = 1; i < items.length; i++) {
    const [a, b] = [items[i - 1] as Ordered, items[i] as Ordered];
    expect(a.id < b.id, `${a.id} < ${b.id}`).toBe(true);
    expect(a.order < b.order, `${a.id}: ${a.order} < ${b.id}: ${b.order}`).toBe(true);
  }
}

describe('IdOrder', () => {
  it('gives new items order keys between their neighbours, in id order', () => {
    const order = ordered(['b', 'd']);
    const before = order.items().map((i) => i.order);
    for (const id of ['c', 'a', 'e']) order.insert(item(id));
    expect(order.items().map((i) => i.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    // No renumbering was needed: the held items kept their keys (the index's buckets rely on them).
    expect([order.get('b')?.order, order.get('d')?.order]).toEqual(before);
    expectConsistent(order);
  });

  it('renumbers in place, keeping the order, when a gap between neighbours runs out', () => {
    const order = ordered(['a', 'b']);
    const bucket: Ordered[] = [order.get('a') as Ordered, order.get('b') as Ordered];
    let id = 'a';
    for (let i = 0; i < 200; i++) {
      id += 'z';
      const next = item(id);
      order.insert(next);
      insertSorted(bucket, next);
      expectConsistent(order);
    }
    // A list kept sorted by order key stays sorted (and complete) through the renumberings.
    expect(bucket.map((i) => i.id)).toEqual(order.items().map((i) => i.id));
  });

  it('replaces an item keeping its order key, and removes items', () => {
    const order = ordered(['a', 'b', 'c']);
    const b = order.get('b') as Ordered;
    const replacement = item('b');
    order.replace(b, replacement);
    expect(replacement.order).toBe(b.order);
    expect(order.get('b')).toBe(replacement);
    order.remove(order.get('a') as Ordered);
    expect(order.items().map((i) => i.id)).toEqual(['b', 'c']);
    expect(order.get('a')).toBeUndefined();
    expect(order.size).toBe(2);
  });
});

describe('sorted lists', () => {
  it('insert once, in order, and remove only what is there', () => {
    const [a, b, c] = [
      { id: 'a', order: 1 },
      { id: 'b', order: 2 },
      { id: 'c', order: 3 },
    ];
    const list: Ordered[] = [];
    for (const x of [c, a, b, a]) insertSorted(list, x);
    expect(list.map((x) => x.id)).toEqual(['a', 'b', 'c']);
    expect(removeSorted(list, b)).toBe(true);
    expect(removeSorted(list, b)).toBe(false);
    expect(list.map((x) => x.id)).toEqual(['a', 'c']);
  });
});
