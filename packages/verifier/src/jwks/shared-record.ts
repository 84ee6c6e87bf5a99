import { createHash } from 'node:crypto';
import type { LockResult, SharedCache } from '../cache/shared-cache.js';

/**
 * The shared-cache keys of one key source, derived from a hash of its URI so that no URL (which
 * may carry a tenant or a query) appears in Redis key names:
 * - `jwks:<h>` the last good key set ({@link StoredKeySet});
 * - `jwks-refetch-lock:<h>` held for the cooldown by the worker refetching for an unknown `kid`;
 * - `jwks-refresh-lock:<h>` held while one worker refreshes an aged set;
 * - `jwks-failed:<h>` written when a refetch could not reach the origin ({@link StoredFailure}).
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

/** A refetch that could not reach the origin, so other workers answer 503 without waiting. */
export interface StoredFailure {
  at: number;
  error: string;
}

/** Reads a stored key set; anything unreadable is a miss. */
export async function readStoredKeySet(cache: SharedCache, key: string): Promise<StoredKeySet | undefined> {
  const raw = await cache.get(key);
  if (raw === undefined) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<StoredKeySet>;
    if (typeof value.fetchedAt !== 'number' || !Array.isArray(value.keys)) return undefined;
    return { fetchedAt: value.fetchedAt, refetch: value.refetch === true, keys: value.keys };
  } catch {
    return undefined;
  }
}

/** Reads a stored refetch failure; anything unreadable is a miss. */
export async function readStoredFailure(cache: SharedCache, key: string): Promise<StoredFailure | undefined> {
  const raw = await cache.get(key);
  if (raw === undefined) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<StoredFailure>;
    return typeof value.at === 'number' && typeof value.error === 'string'
      ? { at: value.at, error: value.error }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes a lock, telling "someone holds it" from "no shared cache to ask" — the latter means this
 * worker proceeds alone (Redis is a cache, never a dependency: DESIGN §9).
 */
export async function tryLock(
  cache: SharedCache | undefined,
  key: string,
  ttlMs: number,
): Promise<LockResult> {
  if (!cache || cache.isAvailable?.() === false) return 'unavailable';
  if (cache.tryAcquireLock) return cache.tryAcquireLock(key, ttlMs);
  return (await cache.acquireLock(key, ttlMs)) ? 'acquired' : 'held';
}
