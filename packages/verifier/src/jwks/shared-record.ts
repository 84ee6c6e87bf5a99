import { createHash } from 'node:crypto';
import type { LockResult, SharedCache } from '../cache/shared-cache.js';
import { isStoredFailure, type StoredFailure } from './failure.js';

/**
 * The shared-cache keys of one key source, derived from a hash of its URI so that no URL (which
 * may carry a tenant or a query) appears in Redis key names:
 * - `jwks:<h>` the last good key set ({@link StoredKeySet});
 * - `jwks-refetch-lock:<h>` held for the cooldown by the worker refetching for an unknown `kid`;
 * - `jwks-refresh-lock:<h>` held while one worker refreshes an aged set;
 * - `jwks-failed:<h>` written when a refetch could not reach the origin ({@link StoredFailure}),
 *   so other workers answer 503 without waiting.
 */
export interface JwksCacheKeys {
  readonly set: string;
  readonly refetchLock: string;
  readonly refreshLock: string;
  readonly failure: string;
}

/** {@link JwksCacheKeys} of `uri`. */
export function jwksCacheKeys(uri: string): JwksCacheKeys {
  const h = createHash('sha256').update(uri).digest('base64url');
  return {
    set: `jwks:${h}`,
    refetchLock: `jwks-refetch-lock:${h}`,
    refreshLock: `jwks-refresh-lock:${h}`,
    failure: `jwks-failed:${h}`,
  };
}

/** A key set as workers share it: the public JWKs and when (ms) they were fetched from the origin. */
export interface StoredKeySet {
  fetchedAt: number;
  /** fetched for an unknown `kid` (so it counts against that cooldown) */
  refetch: boolean;
  keys: Record<string, unknown>[];
}

/**
 * The shared-cache side of one key source: its stored set, refetch failures and locks. Every
 * read is a miss and every write a no-op while the cache is unavailable.
 */
export class SharedKeySets {
  readonly keys: JwksCacheKeys;

  constructor(
    readonly cache: SharedCache,
    uri: string,
    private readonly onLookup: (hit: boolean) => void,
  ) {
    this.keys = jwksCacheKeys(uri);
  }

  /** Whether the cache can be asked at all right now. */
  get available(): boolean {
    return this.cache.isAvailable();
  }

  async read(): Promise<StoredKeySet | undefined> {
    if (!this.available) return undefined;
    const raw = await this.cache.get(this.keys.set);
    const stored = parse(raw, (v: Partial<StoredKeySet>) =>
      typeof v.fetchedAt === 'number' && Array.isArray(v.keys)
        ? { fetchedAt: v.fetchedAt, refetch: v.refetch === true, keys: v.keys }
        : undefined,
    );
    this.onLookup(stored !== undefined);
    return stored;
  }

  async readFailure(): Promise<StoredFailure | undefined> {
    if (!this.available) return undefined;
    return parse(await this.cache.get(this.keys.failure), (v: unknown) =>
      isStoredFailure(v) ? { at: v.at, code: v.code, message: v.message } : undefined,
    );
  }

  write(record: StoredKeySet, ttlSeconds: number): void {
    void this.cache.set(this.keys.set, JSON.stringify(record), ttlSeconds);
  }

  writeFailure(failure: StoredFailure, ttlSeconds: number): void {
    void this.cache.set(this.keys.failure, JSON.stringify(failure), ttlSeconds);
  }

  /**
   * Takes the refresh lock, telling "someone holds it" from "no shared cache to ask"; the latter
   * means this worker proceeds alone (Redis is a cache, never a dependency: DESIGN §9).
   */
  lockRefresh(ttlMs: number): Promise<LockResult> {
    return this.cache.acquireLock(this.keys.refreshLock, ttlMs);
  }

  releaseRefresh(): void {
    void this.cache.releaseLock(this.keys.refreshLock);
  }
}

function parse<T, R>(raw: string | undefined, shape: (value: T) => R | undefined): R | undefined {
  if (raw === undefined) return undefined;
  try {
    return shape(JSON.parse(raw) as T);
  } catch {
    return undefined;
  }
}
