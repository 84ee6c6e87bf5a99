import type { LockResult, SharedCache } from '../cache/shared-cache.js';
import { InvalidTokenError, VerifierUnavailableError } from '../errors.js';
import { clip } from '../jwt/compact.js';
import type { VerificationKey } from '../keys/signature.js';
import type { VerifierLogger, VerifierMetrics } from '../types.js';
import { type ImportedKeySet, importJwkList } from './document.js';
import { fetchJwks, indexKeySet, type KeySet } from './key-set.js';
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
  sharedCache: SharedCache | undefined;
  logger: VerifierLogger;
  metrics: VerifierMetrics;
  now: () => number;
}

const POLL_MS = 20;

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
 * causes at most one refetch per cooldown across the cluster: one flight per process, and a
 * shared lock whose losers wait briefly for the winner's set instead of asking the origin too.
 */
export class RemoteJwks {
  private current: KeySet | undefined;
  private loading: Promise<KeySet> | undefined;
  private refreshing: Promise<void> | undefined;
  private refetching: Promise<KeySet> | undefined;
  private lastRefetch: { at: number; error?: string } | undefined;
  private lastLoadFailure: { at: number; error: string } | undefined;
  private lastRefreshFailed = false;
  private nextRefreshAt = 0;
  private closed = false;
  private readonly shared: SharedKeySets;
  /** where the log and messages point: origin and path, never a query string */
  readonly location: string;

  constructor(private readonly options: RemoteJwksOptions) {
    this.shared = new SharedKeySets(options.sharedCache, options.uri, (hit) =>
      options.metrics.cacheLookup?.('redis', 'jwks', hit),
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
      set = await this.refetch(kid);
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
    if (failure && now - failure.at < this.retryMs) throw new Error(failure.error);
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
      this.lastLoadFailure = { at: now(), error: (err as Error).message };
      throw err;
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
    const lock = await this.shared.lock('refreshLock', fetchTimeoutMs + 1000);
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
      if (lock === 'acquired') this.shared.release('refreshLock');
    }
  }

  /** One refetch for an unknown `kid` per process at a time, and per cooldown. */
  private async refetch(kid: string): Promise<KeySet> {
    if (this.refetching) return this.refetching;
    const last = this.lastRefetch;
    if (last && this.options.now() - last.at < this.options.cooldownMs) {
      if (last.error !== undefined) throw new Error(last.error);
      return this.current as KeySet;
    }
    this.refetching = this.refetchAcrossCluster(kid).finally(() => {
      this.refetching = undefined;
    });
    return this.refetching;
  }

  private async refetchAcrossCluster(kid: string): Promise<KeySet> {
    const { now, cooldownMs } = this.options;
    const known = this.current?.fetchedAt ?? 0;
    let lock: LockResult = 'unavailable';
    try {
      // Another worker may have refetched already, or failed to: reuse its outcome.
      const shortcut = await this.sharedOutcome(known, (stored) => this.hasKid(stored, kid));
      if (shortcut) return shortcut;
      lock = await this.shared.lock('refetchLock', cooldownMs);
      if (lock === 'held') {
        const awaited = await this.awaitOtherRefetch(known, kid);
        if (awaited) {
          this.lastRefetch = { at: now() };
          return awaited;
        }
      }
      const set = await this.fetchOrigin(true);
      this.lastRefetch = { at: now() };
      return set;
    } catch (err) {
      const error = (err as Error).message;
      this.lastRefetch = { at: now(), error };
      if (lock === 'acquired') this.shared.writeFailure({ at: now(), error }, Math.ceil(cooldownMs / 1000));
      throw err;
    }
  }

  /**
   * What the shared cache says about a refetch newer than `known`: a set to adopt, or a recorded
   * failure (thrown). A newer set settles the question when it came from a refetch within the
   * cooldown, or when `accept` says so.
   */
  private async sharedOutcome(
    known: number,
    accept: (stored: StoredKeySet) => boolean,
  ): Promise<KeySet | undefined> {
    if (!this.shared.available) return undefined;
    const { now, cooldownMs } = this.options;
    const [stored, failure] = await Promise.all([this.shared.read(), this.shared.readFailure()]);
    const recentRefetch = stored?.refetch === true && now() - stored.fetchedAt < cooldownMs;
    if (stored && stored.fetchedAt > known && (recentRefetch || accept(stored))) {
      const set = await this.adopt(stored);
      if (set) {
        if (recentRefetch) this.lastRefetch = { at: stored.fetchedAt };
        return set;
      }
    }
    if (failure && failure.at > known && now() - failure.at < cooldownMs) {
      this.lastRefetch = { at: failure.at, error: failure.error };
      throw new Error(failure.error);
    }
    if (recentRefetch && this.current) {
      // The cluster's refetch for this cooldown already happened and we hold its result.
      this.lastRefetch = { at: stored.fetchedAt };
      return this.current;
    }
    return undefined;
  }

  /** Another worker holds the refetch lock: wait (about one fetch timeout) for its set or failure. */
  private async awaitOtherRefetch(known: number, kid: string): Promise<KeySet | undefined> {
    const { fetchTimeoutMs } = this.options;
    // Counted in polls, not by the injected clock, which tests may freeze.
    for (let polls = Math.ceil((fetchTimeoutMs + 500) / POLL_MS); polls > 0; polls--) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (this.closed) throw new Error('the key source was removed while waiting for its refresh');
      if (!this.shared.available) return undefined; // the cache died: ask the origin ourselves
      // Only the other worker's refetch (or a set that has the kid) settles it: a merely newer
      // record may be an ordinary fetch from before the key appeared.
      const outcome = await this.sharedOutcome(known, (stored) => this.hasKid(stored, kid));
      if (outcome) return outcome;
    }
    throw new Error('another worker was refreshing the key set and did not finish in time');
  }

  private hasKid(stored: StoredKeySet, kid: string): boolean {
    return stored.keys.some((jwk) => jwk.kid === kid);
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
