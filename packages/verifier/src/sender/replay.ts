import type { Redis } from 'ioredis';
import { VerifierUnavailableError } from '../errors.js';

/**
 * Remembers DPoP proof ids for as long as their proofs are acceptable (RFC 9449 §11.1). Keys are
 * hashes (no client-chosen text reaches Redis). `claim` resolves `fresh` the first time a key is
 * seen, `replayed` afterwards, and rejects with {@link VerifierUnavailableError} when it cannot
 * tell — never `fresh` on a doubt, so a store outage can never open a replay window.
 */
export interface DpopReplayStore {
  claim(key: string, ttlMs: number): Promise<'fresh' | 'replayed'>;
  /** `cluster`: one store for every worker (Redis); `worker`: this process only. */
  readonly scope: 'cluster' | 'worker';
}

const unavailable = (cause?: unknown) =>
  new VerifierUnavailableError(
    'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE',
    'DPoP proofs cannot be checked for replay right now (the shared replay store, Redis, does not answer), so DPoP requests are refused until it is back; retry shortly.',
    cause === undefined ? undefined : { cause },
  );

/**
 * The cluster-wide store: `SET key 1 NX PX ttl` in Redis, atomic across workers. An error or
 * a timeout (the fail-fast client of `@authz/runtime`) rejects: DPoP fails closed with 503.
 */
export class RedisReplayStore implements DpopReplayStore {
  readonly scope = 'cluster';

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'authz:dpop:jti:',
  ) {}

  async claim(key: string, ttlMs: number): Promise<'fresh' | 'replayed'> {
    let answer: string | null;
    try {
      answer = await this.redis.set(this.prefix + key, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    } catch (err) {
      throw unavailable(err);
    }
    return answer === 'OK' ? 'fresh' : 'replayed';
  }
}

/**
 * A per-process store, for a worker run without Redis (one worker, or tests): replays to the
 * same worker are caught; replays to another worker are not, which is why a cluster configures
 * Redis (README "Sender-constrained tokens"). Bounded: when full of unexpired ids it refuses
 * (503) rather than forget one.
 */
export class MemoryReplayStore implements DpopReplayStore {
  readonly scope = 'worker';
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly maxEntries = 1_000_000,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(key: string, ttlMs: number): Promise<'fresh' | 'replayed'> {
    const now = this.now();
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return 'replayed';
    this.expireOldest(now, 2);
    if (this.seen.size >= this.maxEntries) this.expireOldest(now, Number.POSITIVE_INFINITY);
    if (this.seen.size >= this.maxEntries) throw unavailable();
    // Map order is insertion order: delete first so a re-used expired key moves to the end.
    this.seen.delete(key);
    this.seen.set(key, now + ttlMs);
    return 'fresh';
  }

  /**
   * Drops up to `limit` expired ids from the front. Ids are kept in insertion order and share
   * one window, so the oldest expire first: two per claim keep the map at the window's size.
   */
  private expireOldest(now: number, limit: number): void {
    let dropped = 0;
    for (const [key, until] of this.seen) {
      if (until > now || dropped >= limit) return;
      this.seen.delete(key);
      dropped++;
    }
  }
}
