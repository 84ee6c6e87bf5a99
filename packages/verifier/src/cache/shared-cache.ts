import type { Redis } from 'ioredis';

/**
 * The cluster-wide cache as the verifier sees it: Redis in a cluster ({@link RedisSharedCache}),
 * process memory without one or in tests (`MemorySharedCache`). Every method resolves — an error
 * or a timeout is a miss (`undefined`, `'unavailable'`) — because Redis is a cache, never a
 * dependency of a decision (DESIGN §9). Keys passed in are already hashes: no token or secret
 * reaches Redis.
 */
export interface SharedCache {
  /** Whether the cache answers right now; a `false` lets callers skip it without waiting. */
  isAvailable(): boolean;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /**
   * Takes a lock for `ttlMs` if nobody holds it. Tells a lock someone holds (`held`) from a cache
   * that cannot answer (`unavailable`), so a caller can work alone instead of waiting.
   */
  acquireLock(key: string, ttlMs: number): Promise<LockResult>;
  /** Releases a lock this instance holds (never someone else's). */
  releaseLock(key: string): Promise<void>;
  /**
   * Reads `key` and its revocation generation together (see {@link revoke}). A caller that may
   * write `key` later passes the generation to {@link setIfGeneration}.
   */
  getWithGeneration(key: string): Promise<{ value: string | undefined; generation: string }>;
  /** Writes `key` only if no {@link revoke} of it happened since `generation` was read. */
  setIfGeneration(key: string, value: string, ttlSeconds: number, generation: string): Promise<void>;
  /**
   * Deletes each key and bumps its revocation generation, in one transaction: a write prepared
   * before (a result fetched while the token was being revoked) can then no longer land.
   */
  revoke(...keys: string[]): Promise<void>;
}

/** Key of the revocation generation of `key`. */
export function generationKey(key: string): string {
  return `${key}:generation`;
}

/**
 * How long a generation is kept after a revocation: longer than any fetch that started before
 * it can take (fetches time out in seconds); once it lapses, generation "0" is as good.
 */
export const GENERATION_TTL_MS = 10 * 60_000;

// Compare-and-set on the generation: refuses the write when a revocation bumped it meanwhile.
const SET_IF_GENERATION = `if (redis.call('get', KEYS[2]) or '0') ~= ARGV[3] then return 0 end
return redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])`;

/** Outcome of {@link SharedCache.acquireLock}. */
export type LockResult = 'acquired' | 'held' | 'unavailable';

/** Options of {@link RedisSharedCache}. */
export interface RedisSharedCacheOptions {
  /** Prefix of every key, default `authz:`. */
  prefix?: string;
  /** Called on each failed command (for metrics); the failure is already a miss. */
  onError?: (err: unknown) => void;
  /**
   * After a failed command (a timeout, a dropped connection), skip Redis for this long, so a hung
   * server costs one command timeout rather than one per command. Default 0 (off): under a
   * short command timeout, a busy process would otherwise drop its cache on a single slow reply.
   */
  pauseAfterErrorMs?: number;
}

/** {@link SharedCache} over an ioredis client configured to fail fast (see `@authz/runtime` connectRedis). */
export class RedisSharedCache implements SharedCache {
  private readonly prefix: string;
  private readonly onError: (err: unknown) => void;
  private readonly pauseAfterErrorMs: number;
  private pausedUntil = 0;
  // A random token per lock holder, so a slow holder never releases someone else's lock.
  private readonly owned = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    options: RedisSharedCacheOptions = {},
  ) {
    this.prefix = options.prefix ?? 'authz:';
    this.onError = options.onError ?? (() => {});
    this.pauseAfterErrorMs = options.pauseAfterErrorMs ?? 0;
  }

  private get ready(): boolean {
    return this.redis.status === 'ready' && (this.pausedUntil === 0 || Date.now() >= this.pausedUntil);
  }

  private fail(err: unknown): void {
    if (this.pauseAfterErrorMs > 0) this.pausedUntil = Date.now() + this.pauseAfterErrorMs;
    this.onError(err);
  }

  async get(key: string): Promise<string | undefined> {
    if (!this.ready) return undefined;
    try {
      return (await this.redis.get(this.prefix + key)) ?? undefined;
    } catch (err) {
      this.fail(err);
      return undefined;
    }
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    if (!this.ready || ttlSeconds <= 0) return;
    try {
      await this.redis.set(this.prefix + key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    } catch (err) {
      this.fail(err);
    }
  }

  async acquireLock(key: string, ttlMs: number): Promise<LockResult> {
    if (!this.ready) return 'unavailable';
    const owner = Math.random().toString(36).slice(2);
    try {
      const ok = await this.redis.set(this.prefix + key, owner, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
      if (ok === 'OK') this.owned.set(key, owner);
      return ok === 'OK' ? 'acquired' : 'held';
    } catch (err) {
      this.fail(err);
      return 'unavailable';
    }
  }

  isAvailable(): boolean {
    return this.ready;
  }

  async getWithGeneration(key: string): Promise<{ value: string | undefined; generation: string }> {
    if (!this.ready) return { value: undefined, generation: '0' };
    try {
      const [value, generation] = await this.redis.mget(this.prefix + key, this.prefix + generationKey(key));
      return { value: value ?? undefined, generation: generation ?? '0' };
    } catch (err) {
      this.fail(err);
      return { value: undefined, generation: '0' };
    }
  }

  async setIfGeneration(key: string, value: string, ttlSeconds: number, generation: string): Promise<void> {
    if (!this.ready || ttlSeconds <= 0) return;
    try {
      await this.redis.eval(
        SET_IF_GENERATION,
        2,
        this.prefix + key,
        this.prefix + generationKey(key),
        value,
        Math.max(1, Math.ceil(ttlSeconds)),
        generation,
      );
    } catch (err) {
      this.fail(err);
    }
  }

  async revoke(...keys: string[]): Promise<void> {
    if (!this.ready || keys.length === 0) return;
    try {
      const transaction = this.redis.multi();
      for (const key of keys) {
        transaction.incr(this.prefix + generationKey(key));
        transaction.pexpire(this.prefix + generationKey(key), GENERATION_TTL_MS);
        transaction.del(this.prefix + key);
      }
      const replies = await transaction.exec();
      const failed =
        replies?.find(([err]) => err !== null)?.[0] ?? (replies === null ? new Error('aborted') : undefined);
      if (failed) throw failed;
    } catch (err) {
      this.fail(err);
    }
  }

  async releaseLock(key: string): Promise<void> {
    const owner = this.owned.get(key);
    this.owned.delete(key);
    if (!owner || !this.ready) return;
    try {
      // Compare-and-delete: only the holder releases (Redis docs, "distributed locks").
      await this.redis.eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        1,
        this.prefix + key,
        owner,
      );
    } catch (err) {
      this.fail(err);
    }
  }
}
