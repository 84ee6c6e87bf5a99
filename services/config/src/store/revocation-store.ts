import { REVOCATION_BUCKET, type RevocationEntry, revocationKey } from '@authz/protocol';
import type { KV, Logger, NatsConnection } from '@authz/runtime';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';

/** How often expired entries are removed from the bucket. */
const PRUNE_INTERVAL_MS = 60_000;

/**
 * The durable revocations (DESIGN §11) in the JetStream KV bucket `authz_revocations`. NATS 2.9
 * has no per-message TTL, so every entry carries its own `expires_at` (the moment its tokens
 * could no longer be valid) and this store prunes: each minute, the messages of expired entries
 * are purged from the stream (a subject purge leaves no marker behind). Workers drop expired entries from memory on their own, so a prune
 * that runs late costs storage, never correctness. Storage is bounded by the revocations whose
 * tokens could still be valid.
 */
export class RevocationStore {
  private timer: NodeJS.Timeout | undefined;
  private pruning = false;
  private jsm: JetStreamManager | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores `entry` (replacing an earlier revocation of the same token or subject); returns its revision. */
  async put(entry: RevocationEntry): Promise<number> {
    return this.kv.put(revocationKey(entry), JSON.stringify(entry));
  }

  /** Starts pruning every minute (the first run right away). */
  startPruning(): void {
    void this.prune();
    this.timer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Purges every entry whose `expires_at` has passed; returns how many. */
  async prune(): Promise<number> {
    if (this.pruning) return 0;
    this.pruning = true;
    let removed = 0;
    try {
      const nowSeconds = this.now() / 1000;
      const keys: string[] = [];
      for await (const key of await this.kv.keys()) keys.push(key);
      for (const key of keys) {
        const entry = await this.kv.get(key);
        if (entry?.operation !== 'PUT') continue;
        const expiresAt = ((entry as NonNullable<typeof entry>).json() as { expires_at?: unknown })
          .expires_at;
        if (typeof expiresAt === 'number' && expiresAt > nowSeconds) continue;
        this.jsm ??= await jetstreamManager(this.nc);
        await this.jsm.streams.purge(`KV_${REVOCATION_BUCKET}`, {
          filter: `$KV.${REVOCATION_BUCKET}.${key}`,
        });
        removed++;
      }
      if (removed > 0) this.logger.info({ removed }, 'pruned expired revocations');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not prune revocations; retrying later');
    } finally {
      this.pruning = false;
    }
    return removed;
  }
}
