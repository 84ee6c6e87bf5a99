import { parseRevocationEntry, REVOCATION_BUCKET } from '@authz/protocol';
import type { Logger } from '@authz/runtime';
import { type KvWatchEntry, ResumableKvWatch, type WatchedBucket } from './kv-watch.js';
import { Latch } from './latch.js';

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
  private readonly loaded = new Latch();
  /** Resolves once every revocation stored when the watch started is in force. */
  readonly ready = this.loaded.promise;
  private readonly watch: ResumableKvWatch;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    source: WatchedBucket,
    private readonly sink: RevocationSink,
    private readonly logger: Logger,
  ) {
    this.watch = new ResumableKvWatch({
      ...source,
      bucket: REVOCATION_BUCKET,
      key: '>',
      name: 'revocation watch',
      logger,
      backoff: { baseMs: 50, maxMs: 2000 },
      onEntry: (entry) => {
        this.applyEntry(entry);
        if (!this.loaded.isOpen && entry.delta === 0) this.markLoaded();
      },
    });
  }

  get isReady(): boolean {
    return this.loaded.isOpen;
  }

  start(): void {
    this.watch.start();
    const lag = setInterval(() => {
      if (this.loaded.isOpen) this.watch.checkLag().catch(() => {});
    }, LAG_CHECK_MS);
    const prune = setInterval(() => this.sink.pruneRevocations(), PRUNE_MS);
    lag.unref();
    prune.unref();
    this.timers.push(lag, prune);
    void this.pollEmpty();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.watch.stop();
  }

  private applyEntry(entry: KvWatchEntry): void {
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
    this.loaded.open();
  }

  /** An empty bucket yields no snapshot entry to end on: ask the bucket until something arrives. */
  private async pollEmpty(): Promise<void> {
    while (!this.loaded.isOpen && !this.stopped) {
      try {
        if ((await this.watch.lastRevision()) === 0) this.markLoaded();
      } catch {
        // NATS not answering yet: ask again.
      }
      if (!this.loaded.isOpen) await new Promise((r) => setTimeout(r, EMPTY_POLL_MS));
    }
  }
}
