import type { SharedCache } from './shared-cache.js';

/** How often a worker that lost the cluster-wide lock looks for the holder's result. */
export const POLL_INTERVAL_MS = 15;

/**
 * One fetch that the workers of a cluster share: the worker that takes the lock fetches and
 * publishes, the others wait for what it published. Used by the JWKS refetch and by opaque
 * introspection alike.
 */
export interface ClusterFlight<T> {
  /** Shared-cache key of the lock that elects the one fetcher. */
  readonly lockKey: string;
  /** How long the lock lives: the fetch deadline plus a margin, or the rate-limit window with `holdLock`. */
  readonly lockTtlMs: number;
  /**
   * Keep the lock until it expires instead of releasing it after the fetch: the lock is then a
   * rate limit (one fetch per `lockTtlMs` across the cluster), as for an unknown-`kid` refetch.
   */
  readonly holdLock?: boolean;
  /** How long a worker that lost the lock polls for the holder's result. */
  readonly waitMs: number;
  /**
   * The result the fetcher published, `undefined` while there is none. May reject with a failure
   * the fetcher published: a waiter then fails with it instead of waiting.
   */
  read(): Promise<T | undefined>;
  /** Asks the origin and publishes the result (a fetcher writes before it releases the lock). */
  fetch(): Promise<T>;
  /** The elected fetcher failed: publish the failure if waiters should see it. */
  publishFailure?(failure: unknown): void;
  /**
   * What a waiter whose wait ran out throws; without it the waiter fetches itself (a holder that
   * neither published nor released is presumed dead).
   */
  timedOut?(): Error;
  /** Checked at each poll: an error stops the wait (the caller was closed). */
  stopped?(): Error | undefined;
}

/**
 * Runs `flight` across the cluster. Redis is a cache, never a dependency of a decision
 * (DESIGN §9): when the shared cache cannot answer (down, hung, paused after an error) this
 * worker fetches alone at once, and a waiter whose cache goes away stops waiting and fetches.
 * Whatever it returns came from the origin or from a peer's published fetch — never a default.
 *
 * @example
 * const keys = await runClusterFlight(cache, {
 *   lockKey: 'jwks-refetch-lock:…', lockTtlMs: 30_000, holdLock: true, waitMs: 2500,
 *   read: () => readPublishedSet(), fetch: () => fetchFromOrigin(),
 * });
 */
export async function runClusterFlight<T>(cache: SharedCache, flight: ClusterFlight<T>): Promise<T> {
  const lock = await cache.acquireLock(flight.lockKey, flight.lockTtlMs);
  if (lock === 'unavailable') return flight.fetch();
  if (lock === 'acquired') return lead(cache, flight);
  const published = await waitForHolder(cache, flight);
  return published === undefined ? flight.fetch() : published.value;
}

async function lead<T>(cache: SharedCache, flight: ClusterFlight<T>): Promise<T> {
  try {
    // Double-checked: a peer may have published and released since the caller's first read.
    const late = await flight.read();
    if (late !== undefined) return late;
    return await flight.fetch().catch((err: unknown) => {
      flight.publishFailure?.(err);
      throw err;
    });
  } finally {
    if (!flight.holdLock) await cache.releaseLock(flight.lockKey);
  }
}

/**
 * Polls until the holder publishes (its value, or its failure, rethrown), the lock is gone, the
 * cache stops answering, or `waitMs` passes; `undefined` means "fetch yourself". "Gone" covers a
 * holder that failed without publishing (it released the lock) and one that died (the lock
 * expired), so a dead holder costs at most one wait, a dead Redis one round of reads.
 */
async function waitForHolder<T>(
  cache: SharedCache,
  flight: ClusterFlight<T>,
): Promise<{ value: T } | undefined> {
  const deadline = performance.now() + flight.waitMs;
  for (let first = true; ; first = false) {
    if (!first) {
      if (performance.now() >= deadline) {
        if (flight.timedOut) throw flight.timedOut();
        return undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
    const stop = flight.stopped?.();
    if (stop) throw stop;
    if (!cache.isAvailable()) return undefined;
    // Lock first, then value: a holder publishes before releasing, so "no holder" then "no
    // value" means nobody is about to publish one.
    const holder = await cache.get(flight.lockKey);
    const value = await flight.read();
    if (value !== undefined) return { value };
    if (holder === undefined) return undefined;
  }
}
