import { describe, expect, it } from 'vitest';
import { type ClusterFlight, runClusterFlight } from './cluster-flight.js';
import { MemorySharedCache } from './memory-shared-cache.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One "worker" of a flight over `cache`: `fetch` counts origin calls, waits `fetchMs`, then
 * publishes `value` under `key` (or fails without publishing when `fails`).
 */
function worker(
  cache: MemorySharedCache,
  origin: { calls: number },
  options: { fetchMs?: number; fails?: boolean; value?: string } & Partial<ClusterFlight<string>> = {},
): Promise<string> {
  const { fetchMs = 30, fails = false, value = 'fetched', ...flight } = options;
  return runClusterFlight(cache, {
    lockKey: 'lock',
    lockTtlMs: 5000,
    waitMs: 2000,
    read: () => cache.get('value'),
    fetch: async () => {
      origin.calls++;
      await sleep(fetchMs);
      if (fails) throw new Error('origin down');
      await cache.set('value', value, 60);
      return value;
    },
    ...flight,
  });
}

describe('runClusterFlight', () => {
  it('makes one origin call for concurrent callers on several workers sharing a cache', async () => {
    const cache = new MemorySharedCache();
    const origin = { calls: 0 };
    const results = await Promise.all(Array.from({ length: 5 }, () => worker(cache, origin)));
    expect(results).toEqual(Array(5).fill('fetched'));
    expect(origin.calls).toBe(1);
    expect(await cache.get('lock')).toBeUndefined(); // released after the fetch
  });

  it('keeps the lock for its lifetime with holdLock (a rate limit)', async () => {
    const cache = new MemorySharedCache();
    await worker(cache, { calls: 0 }, { holdLock: true });
    expect(await cache.get('lock')).toBeDefined();
  });

  it('fetches alone at once when the cache is down, and never waits', async () => {
    const cache = new MemorySharedCache();
    cache.setAvailable(false);
    const origin = { calls: 0 };
    await Promise.all([worker(cache, origin), worker(cache, origin)]);
    expect(origin.calls).toBe(2);
  });

  it('lets a waiter fetch itself when the holder failed without publishing', async () => {
    const cache = new MemorySharedCache();
    const origin = { calls: 0 };
    const holder = worker(cache, origin, { fails: true });
    const waiter = worker(cache, origin, { value: 'second' });
    await expect(holder).rejects.toThrow('origin down');
    await expect(waiter).resolves.toBe('second');
    expect(origin.calls).toBe(2);
  });

  it('hands a waiter the failure the holder published', async () => {
    const cache = new MemorySharedCache();
    const origin = { calls: 0 };
    const read = async () => {
      if ((await cache.get('failed')) !== undefined) throw new Error('published failure');
      return cache.get('value');
    };
    const publishFailure = () => void cache.set('failed', '1', 60);
    const holder = worker(cache, origin, { fails: true, holdLock: true, read, publishFailure });
    const waiter = worker(cache, origin, { holdLock: true, read });
    await expect(holder).rejects.toThrow('origin down');
    await expect(waiter).rejects.toThrow('published failure');
    expect(origin.calls).toBe(1);
  });

  it('after waitMs, fails with timedOut() when given, else fetches itself', async () => {
    const cache = new MemorySharedCache();
    await cache.acquireLock('lock', 60_000); // a holder that never publishes nor releases
    const origin = { calls: 0 };
    const timedOut = () => new Error('peer too slow');
    await expect(worker(cache, origin, { waitMs: 50, timedOut })).rejects.toThrow('peer too slow');
    expect(origin.calls).toBe(0);
    await expect(worker(cache, origin, { waitMs: 50 })).resolves.toBe('fetched');
    expect(origin.calls).toBe(1);
  });

  it('stops waiting when stopped() says so', async () => {
    const cache = new MemorySharedCache();
    await cache.acquireLock('lock', 60_000);
    let closed = false;
    const waiting = worker(
      cache,
      { calls: 0 },
      { stopped: () => (closed ? new Error('closed') : undefined) },
    );
    closed = true;
    await expect(waiting).rejects.toThrow('closed');
  });
});

describe('MemorySharedCache', () => {
  it('expires values at their TTL and locks at theirs', async () => {
    let now = 1_000_000;
    const cache = new MemorySharedCache({ now: () => now });
    await cache.set('k', 'v', 10);
    expect(await cache.acquireLock('l', 500)).toBe('acquired');
    expect(await cache.acquireLock('l', 500)).toBe('held');
    now += 600;
    expect(await cache.acquireLock('l', 500)).toBe('acquired');
    expect(await cache.get('k')).toBe('v');
    now += 10_000;
    expect(await cache.get('k')).toBeUndefined();
  });

  it('refuses a write prepared before a revocation (generation)', async () => {
    const cache = new MemorySharedCache();
    const { generation } = await cache.getWithGeneration('k');
    await cache.revoke('k');
    await cache.setIfGeneration('k', 'stale', 60, generation);
    expect(await cache.get('k')).toBeUndefined();
    const fresh = await cache.getWithGeneration('k');
    await cache.setIfGeneration('k', 'fresh', 60, fresh.generation);
    expect(await cache.get('k')).toBe('fresh');
  });

  it('behaves like a Redis that is down while unavailable', async () => {
    const cache = new MemorySharedCache();
    await cache.set('k', 'v', 60);
    cache.setAvailable(false);
    expect(cache.isAvailable()).toBe(false);
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.acquireLock('l', 100)).toBe('unavailable');
    cache.setAvailable(true);
    expect(await cache.get('k')).toBe('v');
  });
});
