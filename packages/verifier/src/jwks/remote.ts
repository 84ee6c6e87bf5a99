import type { SharedCache } from '../cache/shared-cache.js';
import { InvalidTokenError, VerifierUnavailableError } from '../errors.js';
import { clip } from '../jwt/compact.js';
import type { VerificationKey } from '../keys/signature.js';
import type { VerifierLogger, VerifierMetrics } from '../types.js';
import { type ImportedKeySet, importJwkList } from './document.js';
import { KeySourceError } from './failure.js';
import { fetchJwks, indexKeySet, type KeySet } from './key-set.js';
import { UnknownKidRefetch } from './refetch.js';
import { SharedKeySets, type StoredKeySet } from './shared-record.js';

/** Settings of one {@link RemoteJwks}. */
export interface RemoteJwksOptions {
  uri: string;
  /** `cache_ttl` in ms: the age at which a key set is refreshed (not an expiry) */
  ttlMs: number;
  /** how long past `ttlMs` a set keeps serving while the origin cannot be reached */
  maxStaleMs: number;
  /** unknown-`kid` refetches happen at most once per cooldown, cluster-wide */
  cooldownMs: number;
  fetchTimeoutMs: number;
  maxBytes: number;
  /** the cluster's cache (Redis), or process memory without one */
  sharedCache: SharedCache;
  logger: VerifierLogger;
  metrics: VerifierMetrics;
  now: () => number;
}

/**
 * Ties a cached verification to the key that made it (DESIGN §11 "keys leave, tokens go"): `set`
 * is the key set it was last seen in, advanced when a refreshed set still holds the key.
 */
export interface KeyBinding {
  readonly source: RemoteJwks;
  set: KeySet | undefined;
  readonly key: VerificationKey;
}

/**
 * The keys of one `jwks_uri`, in three tiers: memory, the shared cache (Redis), the origin.
 * A set older than `cache_ttl` is refreshed in the background and keeps serving; if the origin
 * is down it serves up to `maxStaleMs` longer (stale-if-error). A token with an unknown `kid`
 * causes at most one refetch per cooldown across the cluster ({@link UnknownKidRefetch}). Every
 * failure to get keys is a {@link KeySourceError}: the `cause` of the 503 a token then gets.
 */
export class RemoteJwks {
  private current: KeySet | undefined;
  private loading: Promise<KeySet> | undefined;
  private refreshing: Promise<void> | undefined;
  private lastLoadFailure: { at: number; failure: KeySourceError } | undefined;
  private lastRefreshFailed = false;
  private nextRefreshAt = 0;
  private closed = false;
  private readonly shared: SharedKeySets;
  private readonly refetcher: UnknownKidRefetch;
  /** where the log and messages point: origin and path, never a query string */
  readonly location: string;

  constructor(private readonly options: RemoteJwksOptions) {
    this.shared = new SharedKeySets(options.sharedCache, options.uri, (hit) =>
      options.metrics.cacheLookup?.('redis', 'jwks', hit),
    );
    this.refetcher = new UnknownKidRefetch(
      {
        shared: this.shared,
        current: () => this.current,
        adopt: (stored) => this.adopt(stored),
        fetchOrigin: (refetch) => this.fetchOrigin(refetch),
        closed: () => this.closed,
      },
      options,
    );
    const url = new URL(options.uri);
    this.location = `${url.origin}${url.pathname}`;
  }

  /** `cache_ttl` may change with the configuration; the smallest of the introspectors sharing the URI wins. */
  setTtl(ttlMs: number): void {
    this.options.ttlMs = ttlMs;
  }

  /** Stops waiting on other workers' refetches (no timer outlives a removed key source). */
  close(): void {
    this.closed = true;
  }

  /** A binding of `key` to the set held now, for a verification made with it. */
  bind(key: VerificationKey): KeyBinding {
    return { source: this, set: this.current, key };
  }

  /**
   * Whether the key of a cached verification is still in the current key set. Cheap on the hot
   * path (the set usually is the one it was bound to); a set older than `cache_ttl` starts a
   * background refresh here, since cached tokens never reach {@link keysFor}. So a key gone from
   * the origin refuses its tokens within `cache_ttl` plus one refresh.
   */
  stillHolds(binding: KeyBinding): boolean {
    const set = this.current;
    if (!set || this.closed) return false;
    const now = this.options.now();
    const age = now - set.fetchedAt;
    if (age >= this.options.ttlMs) {
      if (age > this.options.ttlMs + this.options.maxStaleMs) return false;
      this.refreshInBackground(now);
    }
    if (set === binding.set) return true;
    const { alg, key } = binding.key;
    const kept = set.keys.some((k) => k.alg === alg && k.key.equals(key));
    if (kept) binding.set = set;
    return kept;
  }

  /** Loads the set ahead of the first token (when introspectors load or change). */
  prefetch(): void {
    this.usableSet().catch((err: unknown) => {
      this.options.logger.warn(
        { jwks_uri: this.location, err: (err as Error).message },
        'could not prefetch a key set',
      );
    });
  }

  /**
   * The keys a token with `kid` may be checked against (every key when it has none). An unknown
   * `kid` triggers a rate-limited refetch: still unknown afterwards → 401, origin unreachable → 503.
   */
  async keysFor(kid: string | undefined, introspector: string): Promise<readonly VerificationKey[]> {
    let set: KeySet;
    try {
      set = await this.usableSet();
    } catch (err) {
      throw new VerifierUnavailableError(
        'ERR_KEY_SOURCE_UNAVAILABLE',
        `The signing keys of TokenIntrospector/${introspector} could not be fetched from ${this.location} (${(err as Error).message}) and no cached keys are usable; try again later.`,
        { cause: err, introspector },
      );
    }
    if (kid === undefined) return set.keys;
    const found = set.byKid.get(kid);
    if (found) return found;
    try {
      set = await this.refetcher.refetch(kid);
    } catch (err) {
      throw new VerifierUnavailableError(
        'ERR_KEY_SOURCE_UNAVAILABLE',
        `The token's key id ${JSON.stringify(clip(kid))} is not in the cached key set of TokenIntrospector/${introspector}, and ${this.location} could not be reached to refresh it (${(err as Error).message}); try again later.`,
        { cause: err, introspector },
      );
    }
    const refetched = set.byKid.get(kid);
    if (refetched) return refetched;
    throw new InvalidTokenError(
      'ERR_JWKS_NO_MATCHING_KEY',
      `The token's key id ${JSON.stringify(clip(kid))} is not in the key set of TokenIntrospector/${introspector} at ${this.location}, even after refreshing it; the token was not signed by this issuer's current keys.`,
      { introspector },
    );
  }

  /** The set to verify with now; fetches only when nothing usable is held. */
  private async usableSet(): Promise<KeySet> {
    const now = this.options.now();
    const set = this.current;
    if (set) {
      const age = now - set.fetchedAt;
      this.options.metrics.cacheLookup?.('memory', 'jwks', true);
      if (age < this.options.ttlMs) return set;
      if (age <= this.options.ttlMs + this.options.maxStaleMs) {
        this.refreshInBackground(now);
        if (this.lastRefreshFailed) this.options.metrics.staleKeysServed?.();
        return set;
      }
    }
    // Nothing usable: do not hammer a dead origin for every token.
    const failure = this.lastLoadFailure;
    if (failure && now - failure.at < this.retryMs) throw failure.failure;
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private get retryMs(): number {
    return Math.min(this.options.cooldownMs, 5000);
  }

  private async load(): Promise<KeySet> {
    const { now, ttlMs, maxStaleMs } = this.options;
    const stored = await this.shared.read();
    if (stored && now() - stored.fetchedAt <= ttlMs + maxStaleMs) {
      const set = await this.adopt(stored);
      if (set) return set;
    }
    try {
      const set = await this.fetchOrigin(false);
      this.lastLoadFailure = undefined;
      return set;
    } catch (err) {
      const failure = KeySourceError.from(err);
      this.lastLoadFailure = { at: now(), failure };
      throw failure;
    }
  }

  private refreshInBackground(now: number): void {
    if (this.refreshing || now < this.nextRefreshAt) return;
    this.nextRefreshAt = now + this.retryMs;
    this.refreshing = this.refresh().finally(() => {
      this.refreshing = undefined;
    });
  }

  private async refresh(): Promise<void> {
    const { now, ttlMs, fetchTimeoutMs } = this.options;
    const stored = await this.shared.read();
    if (stored && now() - stored.fetchedAt < ttlMs && (await this.adopt(stored))) {
      this.lastRefreshFailed = false;
      return;
    }
    const lock = await this.shared.lockRefresh(fetchTimeoutMs + 1000);
    if (lock === 'held') return; // another worker refreshes; its set reaches us through the shared cache
    try {
      await this.fetchOrigin(false);
      this.lastRefreshFailed = false;
    } catch (err) {
      this.lastRefreshFailed = true;
      const ageSeconds = Math.round((now() - (this.current?.fetchedAt ?? now())) / 1000);
      this.options.logger.warn(
        { jwks_uri: this.location, err: (err as Error).message, age_s: ageSeconds },
        'key source unreachable; serving the last good key set (stale-if-error)',
      );
    } finally {
      if (lock === 'acquired') this.shared.releaseRefresh();
    }
  }

  private async fetchOrigin(refetch: boolean): Promise<KeySet> {
    const { uri, fetchTimeoutMs, maxBytes, metrics, logger, ttlMs, maxStaleMs } = this.options;
    let imported: ImportedKeySet;
    try {
      imported = await fetchJwks(uri, this.location, { timeoutMs: fetchTimeoutMs, maxBytes });
    } catch (err) {
      metrics.jwksFetch?.(false);
      throw err;
    }
    metrics.jwksFetch?.(true);
    if (imported.skipped.length > 0) {
      logger.warn(
        { jwks_uri: this.location, skipped: imported.skipped },
        'skipped unusable keys in a JWKS document',
      );
    }
    const fetchedAt = this.options.now();
    const set = this.install(imported.keys, fetchedAt);
    this.shared.write({ fetchedAt, refetch, keys: imported.jwks }, (ttlMs + maxStaleMs) / 1000);
    return set;
  }

  /** Takes a set from the shared cache if it is newer than ours; `undefined` when it holds no usable key. */
  private async adopt(stored: StoredKeySet): Promise<KeySet | undefined> {
    if (this.current && this.current.fetchedAt >= stored.fetchedAt) return this.current;
    const imported = await importJwkList(stored.keys);
    if (imported.keys.length === 0) return undefined;
    return this.install(imported.keys, stored.fetchedAt);
  }

  private install(keys: readonly VerificationKey[], fetchedAt: number): KeySet {
    if (this.current && this.current.fetchedAt > fetchedAt) return this.current;
    this.current = indexKeySet(keys, fetchedAt);
    return this.current;
  }
}
