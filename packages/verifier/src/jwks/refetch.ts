import { runClusterFlight } from '../cache/cluster-flight.js';
import { KeySourceError, recordedFailure, storedFailure } from './failure.js';
import type { KeySet } from './key-set.js';
import type { SharedKeySets, StoredKeySet } from './shared-record.js';

/** What an {@link UnknownKidRefetch} needs of its key source. */
export interface RefetchHost {
  readonly shared: SharedKeySets;
  /** the set held now */
  current(): KeySet | undefined;
  /** takes a set from the shared cache if it is newer (see RemoteJwks) */
  adopt(stored: StoredKeySet): Promise<KeySet | undefined>;
  /** fetches the set from the origin, installs and shares it */
  fetchOrigin(refetch: true): Promise<KeySet>;
  /** whether the key source was removed */
  closed(): boolean;
}

/** Settings of an {@link UnknownKidRefetch}. */
export interface RefetchOptions {
  /** unknown-`kid` refetches happen at most once per cooldown, cluster-wide */
  cooldownMs: number;
  fetchTimeoutMs: number;
  now: () => number;
}

/**
 * The unknown-`kid` refetch of one key source (DESIGN §9): at most one per cooldown across the
 * cluster — one flight per process, and a {@link runClusterFlight} whose winner keeps the lock for
 * the cooldown while the losers take its set, or its recorded {@link KeySourceError}.
 */
export class UnknownKidRefetch {
  private refetching: Promise<KeySet> | undefined;
  private lastRefetch: { at: number; failure?: KeySourceError } | undefined;

  constructor(
    private readonly host: RefetchHost,
    private readonly options: RefetchOptions,
  ) {}

  /** One refetch for an unknown `kid` per process at a time, and per cooldown. */
  async refetch(kid: string): Promise<KeySet> {
    if (this.refetching) return this.refetching;
    const last = this.lastRefetch;
    if (last && this.options.now() - last.at < this.options.cooldownMs) {
      if (last.failure !== undefined) throw last.failure;
      return this.host.current() as KeySet;
    }
    this.refetching = this.refetchAcrossCluster(kid).finally(() => {
      this.refetching = undefined;
    });
    return this.refetching;
  }

  /**
   * The cluster's one refetch per cooldown: the worker that takes the refetch lock asks the
   * origin and keeps the lock for the cooldown; the others take its set, or its recorded failure.
   */
  private async refetchAcrossCluster(kid: string): Promise<KeySet> {
    const { now, cooldownMs, fetchTimeoutMs } = this.options;
    const known = this.host.current()?.fetchedAt ?? 0;
    // Only the other worker's refetch (or a set that has the kid) settles it: a merely newer
    // record may be an ordinary fetch from before the key appeared.
    const settled = (stored: StoredKeySet) => stored.keys.some((jwk) => jwk.kid === kid);
    try {
      // Another worker may have refetched already, or failed to: reuse its outcome.
      const shortcut = await this.sharedOutcome(known, settled);
      if (shortcut) return shortcut;
      const set = await runClusterFlight(this.host.shared.cache, {
        lockKey: this.host.shared.keys.refetchLock,
        lockTtlMs: cooldownMs,
        holdLock: true,
        waitMs: fetchTimeoutMs + 500,
        read: () => this.sharedOutcome(known, settled),
        fetch: () => this.host.fetchOrigin(true),
        publishFailure: (err) =>
          this.host.shared.writeFailure(
            storedFailure(KeySourceError.from(err), now()),
            Math.ceil(cooldownMs / 1000),
          ),
        timedOut: () =>
          new KeySourceError(
            'peer-timeout',
            'another worker was refreshing the key set and did not finish in time',
          ),
        stopped: () =>
          this.host.closed()
            ? new KeySourceError('source-removed', 'the key source was removed while waiting for its refresh')
            : undefined,
      });
      this.lastRefetch = { at: now() };
      return set;
    } catch (err) {
      const failure = KeySourceError.from(err);
      this.lastRefetch = { at: now(), failure };
      throw failure;
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
    if (!this.host.shared.available) return undefined;
    const { now, cooldownMs } = this.options;
    const [stored, failure] = await Promise.all([this.host.shared.read(), this.host.shared.readFailure()]);
    const recentRefetch = stored?.refetch === true && now() - stored.fetchedAt < cooldownMs;
    if (stored && stored.fetchedAt > known && (recentRefetch || accept(stored))) {
      const set = await this.host.adopt(stored);
      if (set) {
        if (recentRefetch) this.lastRefetch = { at: stored.fetchedAt };
        return set;
      }
    }
    if (failure && failure.at > known && now() - failure.at < cooldownMs) {
      const recorded = recordedFailure(failure);
      this.lastRefetch = { at: failure.at, failure: recorded };
      throw recorded;
    }
    if (recentRefetch && this.host.current()) {
      // The cluster's refetch for this cooldown already happened and we hold its result.
      this.lastRefetch = { at: stored.fetchedAt };
      return this.host.current();
    }
    return undefined;
  }
}
