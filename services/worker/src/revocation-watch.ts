import { parseRevocationEntry, REVOCATION_BUCKET } from '@authz/protocol';
import type { KV, Logger, NatsConnection } from '@authz/runtime';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';

/** Where revocations go: the verifier's list (see `TokenVerifier.applyRevocation`). */
export interface RevocationSink {
  applyRevocation(key: string, entry: NonNullable<ReturnType<typeof parseRevocationEntry>>): void;
  removeRevocation(key: string): void;
  pruneRevocations(): void;
}

/** Same reasoning as the config watch: a watch behind the bucket on two checks is restarted. */
const LAG_CHECK_MS = 1000;
/** Expired entries are dropped from memory this often (the config service prunes the bucket). */
const PRUNE_MS = 30_000;
/** While the snapshot is not complete, the bucket is asked whether it is empty this often. */
const EMPTY_POLL_MS = 250;

/**
 * Feeds the durable revocation bucket (`authz_revocations`, DESIGN §11) into the verifier: a
 * snapshot before the worker takes checks ({@link ready}), then every change as it is written —
 * so a revocation reaches every worker within milliseconds, and a worker started or restarted
 * later starts with every revocation in force. A failed watch resumes from the last applied
 * revision; a watch that stays behind the bucket (its consumer lived on a NATS node that died)
 * is restarted.
 */
export class RevocationWatcher {
  private stopped = false;
  private loaded = false;
  private applied = 0;
  private behindAt: number | undefined;
  private restart: (() => void) | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private jsm?: JetStreamManager;
  private resolveReady!: () => void;
  /** Resolves once every revocation stored when the watch started is in force. */
  readonly ready = new Promise<void>((resolve) => {
    this.resolveReady = resolve;
  });

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly sink: RevocationSink,
    private readonly logger: Logger,
  ) {}

  get isReady(): boolean {
    return this.loaded;
  }

  start(): void {
    void this.run();
    const lag = setInterval(() => void this.checkLag(), LAG_CHECK_MS);
    const prune = setInterval(() => this.sink.pruneRevocations(), PRUNE_MS);
    lag.unref();
    prune.unref();
    this.timers.push(lag, prune);
    void this.pollEmpty();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.restart?.();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const iter = await this.kv.watch({
          key: '>',
          ...(this.applied > 0 ? { resumeFromRevision: this.applied + 1 } : {}),
        });
        if (this.stopped) return iter.stop();
        this.restart = () => iter.stop();
        failures = 0;
        for await (const entry of iter) {
          this.applied = entry.revision;
          this.applyEntry(entry);
          if (!this.loaded && entry.delta === 0) this.markLoaded();
        }
      } catch (err) {
        failures++;
        this.logger.warn({ err: (err as Error).message }, 'revocation watch failed; retrying');
      }
      if (this.stopped) return;
      await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** failures, 2000)));
    }
  }

  private applyEntry(entry: { key: string; operation: string; json<T>(): T }): void {
    if (entry.operation !== 'PUT') {
      this.sink.removeRevocation(entry.key);
      return;
    }
    let parsed: ReturnType<typeof parseRevocationEntry>;
    try {
      parsed = parseRevocationEntry(entry.json());
    } catch {
      parsed = undefined;
    }
    if (parsed) this.sink.applyRevocation(entry.key, parsed);
    else this.logger.error({ key: entry.key }, 'revocation entry is not valid; ignored');
  }

  private markLoaded(): void {
    if (this.loaded) return;
    this.loaded = true;
    this.resolveReady();
  }

  /** An empty bucket yields no snapshot entry to end on: ask the bucket until something arrives. */
  private async pollEmpty(): Promise<void> {
    while (!this.loaded && !this.stopped) {
      try {
        if ((await this.lastRevision()) === 0) this.markLoaded();
      } catch {
        // NATS not answering yet: ask again.
      }
      if (!this.loaded) await new Promise((r) => setTimeout(r, EMPTY_POLL_MS));
    }
  }

  private async checkLag(): Promise<void> {
    if (!this.loaded || this.stopped) return;
    try {
      const last = await this.lastRevision();
      if (last <= this.applied) this.behindAt = undefined;
      else if (this.behindAt === undefined) this.behindAt = last;
      else {
        this.behindAt = undefined;
        this.logger.warn({ behindRevision: last }, 'revocation watch stalled behind the bucket; resuming it');
        this.restart?.();
      }
    } catch {
      // NATS unreachable: reconnecting is the connection's job.
    }
  }

  /** Sequence of the bucket's newest stored message (0 when it holds none). */
  private async lastRevision(): Promise<number> {
    this.jsm ??= await jetstreamManager(this.nc);
    const stream = `KV_${REVOCATION_BUCKET}`;
    const msg = await this.jsm.streams.getMessage(stream, { last_by_subj: `$KV.${REVOCATION_BUCKET}.>` });
    return msg?.seq ?? 0;
  }
}
