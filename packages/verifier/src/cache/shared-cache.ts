import type { Redis } from 'ioredis';

/**
 * The cluster-wide cache (Redis) as the verifier sees it. Every method resolves — an error or a
 * timeout is a miss (`undefined` / `false`) — because Redis is a cache, never a dependency of a
 * decision (DESIGN §9). Keys passed in are already hashes: no token or secret reaches Redis.
 */
export interface SharedCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
  /** Takes a lock for `ttlMs` if nobody holds it; `false` when taken or Redis is down. */
  acquireLock(key: string, ttlMs: number): Promise<boolean>;
  releaseLock(key: string): Promise<void>;
  /**
   * Like {@link acquireLock}, but tells a lock someone holds (`held`) from a cache that cannot
   * answer (`unavailable`), so a caller can fall back to working alone instead of waiting.
   */
  tryAcquireLock?(key: string, ttlMs: number): Promise<LockResult>;
  /** Whether the cache is connected right now; a `false` lets callers skip it without waiting. */
  isAvailable?(): boolean;
}

/** Outcome of {@link SharedCache.tryAcquireLock}. */
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

  async del(...keys: string[]): Promise<void> {
    if (!this.ready || keys.length === 0) return;
    try {
      await this.redis.del(...keys.map((k) => this.prefix + k));
    } catch (err) {
      this.fail(err);
    }
  }

  async acquireLock(key: string, ttlMs: number): Promise<boolean> {
    return (await this.tryAcquireLock(key, ttlMs)) === 'acquired';
  }

  async tryAcquireLock(key: string, ttlMs: number): Promise<LockResult> {
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
