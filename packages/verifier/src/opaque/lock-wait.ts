import type { SharedCache } from '../cache/shared-cache.js';

/** How often a worker that lost the cluster-wide lock looks for the holder's result. */
export const POLL_INTERVAL_MS = 15;

/**
 * Waits for the holder of `lockKey` to publish its result: polls until `readResult` finds one,
 * the lock is gone, or `timeoutMs` passes; `undefined` in the last two cases, when the caller
 * should call the endpoint itself. "Gone" covers a holder that failed (it releases without
 * writing), a lock that expired (the holder died), and Redis being down (every read misses), so
 * an unreachable Redis costs one round of reads, never a wait.
 */
export async function waitForLockHolder<T>(
  shared: SharedCache,
  lockKey: string,
  readResult: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (let first = true; ; first = false) {
    if (!first) {
      if (performance.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
    // Lock first, then value: a holder writes the value before releasing, so "no holder" then
    // "no value" means nobody is about to write one.
    const holder = await shared.get(lockKey);
    const result = await readResult();
    if (result !== undefined) return result;
    if (holder === undefined) return undefined;
  }
}
