import { CONFIG_BUCKET, parseResourceKey } from '@authz/protocol';
import type { KV, Logger, NatsConnection } from '@authz/runtime';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { KvWatchInclude } from '@nats-io/kv';
import type { ConfigState } from './config-state.js';
import type { UserDirectory } from './users.js';

/** Types held wholly in memory: each gets a watch with an initial snapshot. */
const SNAPSHOT_TYPES = ['TokenIntrospector', 'AccessPolicy', 'Role', 'Client'] as const;
const ALL_TYPES = [...SNAPSHOT_TYPES, 'User'] as const;

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
  private stopped = false;
  private readonly loaded = new Set<string>();
  private commitScheduled = false;
  /** per type: revision of the last entry applied (or the start point of an updates-only watch) */
  private readonly applied = new Map<string, number>();
  /** per type: the bucket's last revision when the previous check found the watch behind */
  private readonly behind = new Map<string, number>();
  /** per type: stops its current watch (the loop then resumes it from the last applied revision) */
  private readonly restarts = new Map<string, () => void>();
  private lagTimer?: NodeJS.Timeout;
  private checking = false;
  private jsm?: JetStreamManager;
  private resolveReady!: () => void;
  /** Resolves once every snapshot type is loaded and committed. */
  readonly ready = new Promise<void>((resolve) => {
    this.resolveReady = resolve;
  });

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly state: ConfigState,
    private readonly users: UserDirectory,
    private readonly logger: Logger,
    private readonly metrics: WatchMetrics,
  ) {}

  get isReady(): boolean {
    return this.loaded.size === SNAPSHOT_TYPES.length;
  }

  /** Starts every watch; resolve {@link ready} to know when the snapshot is in memory. */
  start(): void {
    for (const type of SNAPSHOT_TYPES) void this.run(type, true);
    void this.run('User', false);
    this.lagTimer = setInterval(() => void this.checkLag(), LAG_CHECK_MS);
    this.lagTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.lagTimer);
    for (const stop of this.restarts.values()) stop();
  }

  /** Restarts every watch that has stayed behind the bucket since the previous check. */
  private async checkLag(): Promise<void> {
    // One check at a time: while NATS is slow to answer, checks must not pile up.
    if (!this.isReady || this.checking) return;
    this.checking = true;
    try {
      for (const type of ALL_TYPES) {
        const last = await this.lastRevision(type);
        const previous = this.behind.get(type);
        if (last <= (this.applied.get(type) ?? 0)) this.behind.delete(type);
        else if (previous === undefined) this.behind.set(type, last);
        else {
          this.behind.delete(type);
          this.logger.warn(
            { type, behindRevision: previous },
            'config watch stalled behind the bucket; resuming it',
          );
          this.restarts.get(type)?.();
        }
      }
    } catch {
      // NATS unreachable: reconnecting is the connection's job; check again next time.
    } finally {
      this.checking = false;
    }
  }

  /** Revision of the bucket's newest entry of `type` (0 when it has none). */
  private async lastRevision(type: string): Promise<number> {
    const subject = `$KV.${CONFIG_BUCKET}.${type}.>`;
    this.jsm ??= await jetstreamManager(this.nc);
    const msg = await this.jsm.streams.getMessage(`KV_${CONFIG_BUCKET}`, { last_by_subj: subject });
    return msg?.seq ?? 0;
  }

  private async run(type: string, snapshot: boolean): Promise<void> {
    let resumeFrom: number | undefined;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (snapshot && resumeFrom === undefined && (await this.countKeys(type)) === 0) this.markLoaded(type);
        // An updates-only watch starts after what the bucket holds now: that is its "applied".
        if (!snapshot && resumeFrom === undefined) this.applied.set(type, await this.lastRevision(type));
        const iter = await this.kv.watch({
          key: `${type}.>`,
          ...(resumeFrom !== undefined ? { resumeFromRevision: resumeFrom } : {}),
          ...(snapshot
            ? {}
            : {
                headers_only: true,
                ...(resumeFrom === undefined ? { include: KvWatchInclude.UpdatesOnly } : {}),
              }),
        });
        if (this.stopped) return iter.stop();
        this.restarts.set(type, () => iter.stop());
        if (resumeFrom !== undefined && !snapshot) this.users.clear();
        failures = 0;
        for await (const entry of iter) {
          resumeFrom = entry.revision + 1;
          this.applyEntry(type, entry, snapshot);
        }
      } catch (err) {
        failures++;
        this.logger.warn({ type, err: (err as Error).message }, 'config watch failed; retrying');
      }
      if (this.stopped) return;
      this.metrics.restarted(type);
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** failures, 5000)));
    }
  }

  private applyEntry(
    type: string,
    entry: { key: string; revision: number; operation: string; delta?: number; created: Date; json<T>(): T },
    snapshot: boolean,
  ): void {
    this.applied.set(type, entry.revision);
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
      this.resolveReady();
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

  private async countKeys(type: string): Promise<number> {
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.streams.info(`KV_${CONFIG_BUCKET}`, {
      subjects_filter: `$KV.${CONFIG_BUCKET}.${type}.>`,
    });
    return Object.keys(info.state.subjects ?? {}).length;
  }
}
