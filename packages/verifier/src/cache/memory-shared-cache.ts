import { LruMap } from './lru.js';
import { GENERATION_TTL_MS, generationKey, type LockResult, type SharedCache } from './shared-cache.js';

/** Options of {@link MemorySharedCache}. */
export interface MemorySharedCacheOptions {
  /** Most keys held (values, locks and generations alike), least recently used evicted; default 10 000. */
  maxEntries?: number;
  /** Clock in ms since the epoch, for tests; default `Date.now`. */
  now?: () => number;
}

interface Entry {
  value: string;
  /** ms since the epoch */
  expiresAt: number;
}

/**
 * {@link SharedCache} in process memory, with Redis's semantics (TTLs, `NX` locks, revocation
 * generations): what a verifier uses when no Redis is configured, and what tests use to run the
 * cluster seam without a server. {@link setAvailable} makes it behave like a Redis that is down
 * (every read a miss, every write dropped, locks `unavailable`). Shared by several verifiers, one
 * instance stands for the whole cluster: a lock is then owned per key, not per verifier.
 *
 * @example
 * const cache = new MemorySharedCache();
 * const a = new TokenVerifier({ sharedCache: cache }); // two "workers" sharing one cache
 * const b = new TokenVerifier({ sharedCache: cache });
 */
export class MemorySharedCache implements SharedCache {
  private readonly entries: LruMap<string, Entry>;
  private readonly now: () => number;
  private available = true;
  private lockSeq = 0;
  // A token per lock taken here, so a release after expiry never frees a lock taken since.
  private readonly owned = new Map<string, string>();

  constructor(options: MemorySharedCacheOptions = {}) {
    this.entries = new LruMap(options.maxEntries ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  /** Simulates the cache going down (`false`) or coming back (`true`); its contents survive. */
  setAvailable(available: boolean): void {
    this.available = available;
  }

  isAvailable(): boolean {
    return this.available;
  }

  async get(key: string): Promise<string | undefined> {
    return this.available ? this.read(key) : undefined;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    if (this.available && ttlSeconds > 0) this.write(key, value, Math.max(1, Math.ceil(ttlSeconds)) * 1000);
  }

  async acquireLock(key: string, ttlMs: number): Promise<LockResult> {
    if (!this.available) return 'unavailable';
    if (this.read(key) !== undefined) return 'held';
    const owner = `${++this.lockSeq}`;
    this.write(key, owner, Math.max(1, Math.ceil(ttlMs)));
    this.owned.set(key, owner);
    return 'acquired';
  }

  async releaseLock(key: string): Promise<void> {
    const owner = this.owned.get(key);
    this.owned.delete(key);
    if (owner !== undefined && this.available && this.read(key) === owner) this.entries.delete(key);
  }

  async getWithGeneration(key: string): Promise<{ value: string | undefined; generation: string }> {
    if (!this.available) return { value: undefined, generation: '0' };
    return { value: this.read(key), generation: this.read(generationKey(key)) ?? '0' };
  }

  async setIfGeneration(key: string, value: string, ttlSeconds: number, generation: string): Promise<void> {
    if ((this.read(generationKey(key)) ?? '0') !== generation) return;
    await this.set(key, value, ttlSeconds);
  }

  async revoke(...keys: string[]): Promise<void> {
    if (!this.available) return;
    for (const key of keys) {
      const generation = Number(this.read(generationKey(key)) ?? '0') + 1;
      this.write(generationKey(key), String(generation), GENERATION_TTL_MS);
      this.entries.delete(key);
    }
  }

  private read(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.now()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  private write(key: string, value: string, ttlMs: number): void {
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
  }
}
