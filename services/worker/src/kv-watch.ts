import type { KV, Logger, NatsConnection } from '@authz/runtime';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { KvWatchInclude } from '@nats-io/kv';

/** What a watch hands on: one KV entry (a PUT, or a DEL/PURGE marker). */
export interface KvWatchEntry {
  key: string;
  revision: number;
  operation: string;
  /** entries of the initial snapshot still to come after this one (0: the snapshot is complete) */
  delta?: number;
  created: Date;
  json<T>(): T;
}

/** A KV bucket to watch, with the connection its stream is asked about. */
export interface WatchedBucket {
  nc: NatsConnection;
  kv: KV;
}

/** One watched key filter of a KV bucket. */
export interface KvWatchOptions extends WatchedBucket {
  /** the bucket's name (its stream is `KV_<bucket>`) */
  bucket: string;
  /** the key filter (`AccessPolicy.>`, or `>` for the whole bucket) */
  key: string;
  /** what logs call this watch ('config watch') and the fields they add ({ type: 'Role' }) */
  name: string;
  fields?: Record<string, unknown>;
  logger: Logger;
  /**
   * Only changes from now on, headers only (no snapshot, no values): for a type read on demand,
   * where a change only invalidates a cache.
   */
  updatesOnly?: boolean;
  /** back-off after a failed or ended watch: `baseMs · 2^failures`, at most `maxMs` */
  backoff: { baseMs: number; maxMs: number };
  /** runs before the first watch is opened (and again if that fails) */
  beforeFirst?: () => Promise<void>;
  onEntry(entry: KvWatchEntry): void;
  /** a watch was opened again after one ended (entries were not missed: it resumes) */
  onResumed?: () => void;
  /** a watch ended or failed and will be opened again */
  onEnded?: () => void;
}

/**
 * A KV watch that lasts: resumed from the last applied revision when it fails or ends (with
 * back-off), and restarted when it stays behind the bucket (its consumer lived on a NATS node
 * that died: nats.js notices only after two missed 30 s heartbeats). The config and revocation
 * watches of a worker are each made of these.
 */
export class ResumableKvWatch {
  /** Revision of the last entry applied (for an updates-only watch, where it started). */
  applied = 0;
  private stopped = false;
  private opened = false;
  private behindAt: number | undefined;
  private stopCurrent: (() => void) | undefined;
  private jsm?: JetStreamManager;

  constructor(private readonly options: KvWatchOptions) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.stopCurrent?.();
  }

  /** Revision of the bucket's newest entry under the key filter (0 when there is none). */
  async lastRevision(): Promise<number> {
    const { nc, bucket, key } = this.options;
    this.jsm ??= await jetstreamManager(nc);
    const msg = await this.jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${key}` });
    return msg?.seq ?? 0;
  }

  /**
   * Restarts the watch when it is behind the bucket on two checks in a row (one check alone may
   * race a write in flight). Throws when NATS does not answer: reconnecting is the connection's job.
   */
  async checkLag(): Promise<void> {
    if (this.stopped) return;
    const last = await this.lastRevision();
    if (last <= this.applied) this.behindAt = undefined;
    else if (this.behindAt === undefined) this.behindAt = last;
    else {
      this.behindAt = undefined;
      this.options.logger.warn(
        { ...this.options.fields, behindRevision: last },
        `${this.options.name} stalled behind the bucket; resuming it`,
      );
      this.stopCurrent?.();
    }
  }

  private async run(): Promise<void> {
    const { kv, key, updatesOnly, logger, backoff } = this.options;
    let failures = 0;
    let first = true;
    while (!this.stopped) {
      try {
        if (first) {
          await this.options.beforeFirst?.();
          // An updates-only watch starts after what the bucket holds now: that is its "applied".
          if (updatesOnly) this.applied = await this.lastRevision();
          first = false;
        }
        const resume = this.applied > 0 ? { resumeFromRevision: this.applied + 1 } : undefined;
        const iter = await kv.watch({
          key,
          ...resume,
          ...(updatesOnly
            ? { headers_only: true, ...(resume ? {} : { include: KvWatchInclude.UpdatesOnly }) }
            : {}),
        });
        if (this.stopped) return iter.stop();
        this.stopCurrent = () => iter.stop();
        if (this.opened) this.options.onResumed?.();
        this.opened = true;
        failures = 0;
        for await (const entry of iter) {
          this.applied = entry.revision;
          this.options.onEntry(entry);
        }
      } catch (err) {
        failures++;
        logger.warn(
          { ...this.options.fields, err: (err as Error).message },
          `${this.options.name} failed; retrying`,
        );
      }
      if (this.stopped) return;
      this.options.onEnded?.();
      await new Promise((r) => setTimeout(r, Math.min(backoff.baseMs * 2 ** failures, backoff.maxMs)));
    }
  }
}
