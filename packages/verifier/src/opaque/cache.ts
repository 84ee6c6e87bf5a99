import { createHash } from 'node:crypto';
import { LruMap } from '../cache/lru.js';
import type { VerifiedIdentity } from '../types.js';
import type { IntrospectorRecord } from './config.js';
import type { IntrospectionAnswer } from './endpoint.js';

/**
 * Redis key (without the cache prefix) of one cached result: derived from a hash of
 * (introspector id, token hash) — never the raw token.
 *
 * @example introspectionCacheKey('external-auth-server', hashToken(token)) // 'introspection:Q2x…'
 */
export function introspectionCacheKey(introspectorId: string, tokenHash: string): string {
  // NUL cannot occur in a FHIR id, so (id, hash) pairs map to distinct inputs.
  return `introspection:${createHash('sha256').update(`${introspectorId}\u0000${tokenHash}`).digest('base64url')}`;
}

/** Key of the cluster-wide lock that elects one caller of the endpoint for a key. */
export function introspectionLockKey(cacheKey: string): string {
  return `${cacheKey}:lock`;
}

/** One introspector's verdict on one token, as kept in memory. */
export interface CachedResult {
  /** The introspector record it came from: a replaced record makes it stale. */
  readonly record: IntrospectorRecord;
  /** The identity when the token was active, `undefined` when inactive. */
  readonly identity: VerifiedIdentity | undefined;
  /** When it stops being usable, ms since the epoch. */
  readonly expiresAt: number;
}

/**
 * Builds the cached form of a definite answer received at `at` (ms): active results live for
 * min(cache_ttl, exp − now), inactive ones for the negative TTL (never longer than cache_ttl).
 * `unavailable` answers are never cached, so callers pass only `active` / `inactive`.
 */
export function cachedResult(
  record: IntrospectorRecord,
  answer: Exclude<IntrospectionAnswer, { kind: 'unavailable' }>,
  at: number,
  negativeTtlMs: number,
): CachedResult {
  if (answer.kind === 'inactive') {
    return { record, identity: undefined, expiresAt: at + Math.min(negativeTtlMs, record.cacheTtlMs) };
  }
  const identity: VerifiedIdentity = { kind: 'opaque', introspector: record.id, claims: answer.claims };
  // Not enumerable: internal to revocation checks, never part of a reply or an equality.
  Object.defineProperty(identity, 'checkedAt', { value: at, enumerable: false });
  if (answer.exp !== undefined) identity.exp = answer.exp;
  const until = at + record.cacheTtlMs;
  return {
    record,
    identity: Object.freeze(identity),
    expiresAt: answer.exp === undefined ? until : Math.min(until, answer.exp * 1000),
  };
}

/** Shape of a result in the shared cache: the endpoint's fingerprint, when it answered, what. */
interface SharedValue {
  f: string;
  at: number;
  active: boolean;
  claims?: Record<string, unknown>;
}

/** Serialises a definite answer for the shared cache. */
export function encodeShared(
  record: IntrospectorRecord,
  answer: Exclude<IntrospectionAnswer, { kind: 'unavailable' }>,
  at: number,
): string {
  const value: SharedValue =
    answer.kind === 'active'
      ? { f: record.fingerprint, at, active: true, claims: answer.claims }
      : { f: record.fingerprint, at, active: false };
  return JSON.stringify(value);
}

/**
 * Reads a shared-cache value back, re-deriving its expiry from this worker's view of the
 * introspector (a shortened cache_ttl applies at once) and `now`. Anything unexpected, written
 * for another endpoint URL, or expired is a miss.
 */
export function decodeShared(
  raw: string | undefined,
  record: IntrospectorRecord,
  now: number,
  negativeTtlMs: number,
): CachedResult | undefined {
  if (raw === undefined) return undefined;
  let value: Partial<SharedValue>;
  try {
    value = JSON.parse(raw) as Partial<SharedValue>;
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || value.f !== record.fingerprint) return undefined;
  if (typeof value.at !== 'number' || value.at > now + 60_000) return undefined;
  let result: CachedResult;
  if (value.active === false) {
    result = cachedResult(record, { kind: 'inactive' }, value.at, negativeTtlMs);
  } else if (value.active === true && typeof value.claims === 'object' && value.claims !== null) {
    const exp = value.claims.exp;
    if (exp !== undefined && typeof exp !== 'number') return undefined;
    result = cachedResult(record, { kind: 'active', claims: value.claims, exp }, value.at, negativeTtlMs);
  } else {
    return undefined;
  }
  return result.expiresAt > now ? result : undefined;
}

/** In-process results, least recently used evicted first; keyed by (introspector id, token hash). */
export class ResultMemo {
  private readonly entries: LruMap<string, CachedResult>;

  constructor(maxEntries: number) {
    this.entries = new LruMap(maxEntries);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The live result of `record` for the token, or `undefined` (expired and stale ones are dropped). */
  get(record: IntrospectorRecord, tokenHash: string, now: number): CachedResult | undefined {
    const key = memoKey(record.id, tokenHash);
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (hit.record === record && hit.expiresAt > now) return hit;
    this.entries.delete(key);
    return undefined;
  }

  set(tokenHash: string, result: CachedResult): void {
    this.entries.set(memoKey(result.record.id, tokenHash), result);
  }

  delete(introspectorId: string, tokenHash: string): void {
    this.entries.delete(memoKey(introspectorId, tokenHash));
  }

  /** Drops every result whose record `keep` rejects (after a configuration change). */
  retain(keep: (record: IntrospectorRecord) => boolean): void {
    this.entries.sweep((result) => !keep(result.record));
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Key of one result in process memory (and of its in-flight call). */
export function memoKey(introspectorId: string, tokenHash: string): string {
  return `${introspectorId}\n${tokenHash}`;
}
