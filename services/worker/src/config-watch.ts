import { CONFIG_BUCKET, parseResourceKey } from '@authz/protocol';
import type { Logger, NatsConnection } from '@authz/runtime';
import { jetstreamManager } from '@nats-io/jetstream';
import type { ConfigState } from './config-state.js';
import { type KvWatchEntry, ResumableKvWatch, type WatchedBucket } from './kv-watch.js';
import { Latch } from './latch.js';
import type { UserDirectory } from './users.js';

/** Types held wholly in memory: each gets a watch with an initial snapshot. */
const SNAPSHOT_TYPES = ['TokenIntrospector', 'AccessPolicy', 'Role', 'Client'] as const;

/**
 * How often each watch is compared with the bucket. A watch whose consumer is gone — it lived on
 * a NATS node that died, or was deleted — delivers nothing and nats.js notices only after two
 * missed 30 s heartbeats; a watch still behind the same KV write one check later is restarted.
 */
const LAG_CHECK_MS = 2000;

/** Hooks for metrics. */
export interface WatchMetrics {
  applied(type: string, lagMs: number, revision: number): void;
  restarted(type: string): void;
}

/**
 * Feeds KV changes into {@link ConfigState} and invalidates cached Users.
 *
 * One watch per type because NATS 2.9 allows one filter per consumer. The initial snapshot of a
 * watch ends at the first entry with `delta === 0`; a type with no keys yields nothing, so the
 * stream is asked first how many subjects the type has. When a watch ends unexpectedly it is
 * resumed from the last applied revision, with backoff; so is a watch that stays behind the
 * bucket's newest entry of its type (its consumer was lost), checked every {@link LAG_CHECK_MS}.
 */
export class ConfigWatcher {
  private readonly loaded = new Set<string>();
  private commitScheduled = false;
  private readonly watches: ResumableKvWatch[];
  private lagTimer?: NodeJS.Timeout;
  private checking = false;
  private readonly loadedLatch = new Latch();
  /** Resolves once every snapshot type is loaded and committed. */
  readonly ready = this.loadedLatch.promise;

  constructor(
    source: WatchedBucket,
    private readonly state: ConfigState,
    private readonly users: UserDirectory,
    private readonly logger: Logger,
    private readonly metrics: WatchMetrics,
  ) {
    const watch = (type: string, snapshot: boolean) =>
      new ResumableKvWatch({
        ...source,
        bucket: CONFIG_BUCKET,
        key: `${type}.>`,
        name: 'config watch',
        fields: { type },
        logger,
        updatesOnly: !snapshot,
        backoff: { baseMs: 100, maxMs: 5000 },
        // A type with no keys yields no snapshot entry to end on: ask how many it has first.
        beforeFirst: snapshot
          ? async () => {
              if ((await countKeys(source.nc, type)) === 0) this.markLoaded(type);
            }
          : undefined,
        onEntry: (entry) => this.applyEntry(type, entry, snapshot),
        // Users changed while no watch ran are invalidated by forgetting every cached User.
        onResumed: snapshot ? undefined : () => this.users.clear(),
        onEnded: () => this.metrics.restarted(type),
      });
    this.watches = [...SNAPSHOT_TYPES.map((type) => watch(type, true)), watch('User', false)];
  }

  get isReady(): boolean {
    return this.loaded.size === SNAPSHOT_TYPES.length;
  }

  /** Starts every watch; resolve {@link ready} to know when the snapshot is in memory. */
  start(): void {
    for (const watch of this.watches) watch.start();
    this.lagTimer = setInterval(() => void this.checkLag(), LAG_CHECK_MS);
    this.lagTimer.unref();
  }

  stop(): void {
    clearInterval(this.lagTimer);
    for (const watch of this.watches) watch.stop();
  }

  /** Restarts every watch that has stayed behind the bucket since the previous check. */
  private async checkLag(): Promise<void> {
    // One check at a time: while NATS is slow to answer, checks must not pile up.
    if (!this.isReady || this.checking) return;
    this.checking = true;
    try {
      for (const watch of this.watches) await watch.checkLag();
    } catch {
      // NATS unreachable: reconnecting is the connection's job; check again next time.
    } finally {
      this.checking = false;
    }
  }

  private applyEntry(type: string, entry: KvWatchEntry, snapshot: boolean): void {
    if (type === 'User') {
      const ref = parseResourceKey(entry.key);
      if (ref) this.users.invalidate(ref.id);
      this.state.revision = Math.max(this.state.revision, entry.revision);
    } else {
      let value: unknown;
      if (entry.operation === 'PUT') {
        try {
          value = entry.json();
        } catch {
          this.logger.error({ key: entry.key }, 'KV entry is not JSON; treated as deleted');
        }
      }
      this.state.apply({ key: entry.key, revision: entry.revision, value });
    }
    this.metrics.applied(type, Date.now() - entry.created.getTime(), this.state.revision);
    if (snapshot && !this.loaded.has(type)) {
      if (entry.delta === 0) this.markLoaded(type);
      return;
    }
    this.scheduleCommit();
  }

  private markLoaded(type: string): void {
    if (this.loaded.has(type)) return;
    this.loaded.add(type);
    if (this.isReady) {
      this.state.commit();
      this.logger.info({ revision: this.state.revision, ...this.state.counts }, 'configuration loaded');
      this.loadedLatch.open();
    }
  }

  /** Coalesces a burst of changes into one rebuild. */
  private scheduleCommit(): void {
    if (this.commitScheduled || !this.isReady) return;
    this.commitScheduled = true;
    setImmediate(() => {
      this.commitScheduled = false;
      this.state.commit();
    });
  }
}

/** How many keys of `type` the bucket holds. */
async function countKeys(nc: NatsConnection, type: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(`KV_${CONFIG_BUCKET}`, {
    subjects_filter: `$KV.${CONFIG_BUCKET}.${type}.>`,
  });
  return Object.keys(info.state.subjects ?? {}).length;
}
