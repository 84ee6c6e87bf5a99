import { CONFIG_BUCKET, parseResourceKey } from '@authz/protocol';
import type { KV, Logger, NatsConnection } from '@authz/runtime';
import { jetstreamManager } from '@nats-io/jetstream';
import { KvWatchInclude } from '@nats-io/kv';
import type { ConfigState } from './config-state.js';
import type { UserDirectory } from './users.js';

/** Types held wholly in memory: each gets a watch with an initial snapshot. */
const SNAPSHOT_TYPES = ['TokenIntrospector', 'AccessPolicy', 'Role', 'Client'] as const;

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
 * resumed from the last applied revision, with backoff.
 */
export class ConfigWatcher {
  private stopped = false;
  private readonly loaded = new Set<string>();
  private readonly stops: Array<() => void> = [];
  private commitScheduled = false;
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
  }

  stop(): void {
    this.stopped = true;
    for (const stop of this.stops) stop();
  }

  private async run(type: string, snapshot: boolean): Promise<void> {
    let resumeFrom: number | undefined;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (snapshot && resumeFrom === undefined && (await this.countKeys(type)) === 0) this.markLoaded(type);
        const iter = await this.kv.watch({
          key: `${type}.>`,
          ...(resumeFrom !== undefined ? { resumeFromRevision: resumeFrom } : {}),
          ...(snapshot ? {} : { headers_only: true, ...(resumeFrom === undefined ? { include: KvWatchInclude.UpdatesOnly } : {}) }),
        });
        this.stops.push(() => iter.stop());
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
