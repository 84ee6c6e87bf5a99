import { wire } from '@authz/protocol';
import type { Logger, NatsConnection } from '@authz/runtime';
import {
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';

/** DESIGN §14: the JetStream stream that keeps every decision event. */
export const AUDIT_STREAM = 'AUTHZ_DECISIONS';

/** What the stream is made of; the config service creates it, nats-server writes it. */
export interface AuditStreamSettings {
  /** The decision subject (`<prefix>.v1.decisions`). */
  subject: string;
  /** Retention, seconds (`AUTHZ_AUDIT_MAX_AGE`). */
  maxAgeSeconds: number;
  /** Replicas, like the KV bucket (`AUTHZ_KV_REPLICAS`). */
  replicas: number;
  /** Disk cap in bytes (`AUTHZ_AUDIT_MAX_BYTES`); -1 or absent: age is the only limit. */
  maxBytes?: number;
}

/**
 * The stream's configuration. File storage so it survives a nats-server restart; limits
 * retention with `max_age`, dropping the oldest first (`discard: old`) — the audit trail never
 * refuses a write, and nothing on the decision path waits for it.
 */
export function auditStreamConfig(settings: AuditStreamSettings): Partial<StreamConfig> & { name: string } {
  return {
    name: AUDIT_STREAM,
    description: 'authz decision events (DESIGN §14 audit trail), written by nats-server',
    subjects: [settings.subject],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(settings.maxAgeSeconds * 1000),
    num_replicas: settings.replicas,
    max_bytes: settings.maxBytes ?? -1,
    // Events are a few hundred bytes; a 64 KiB cap bounds what one message can cost a reader.
    max_msg_size: 64 * 1024,
  };
}

/** How {@link ensureAuditStream} found the stream. */
export type EnsureResult = 'created' | 'updated' | 'unchanged';

/**
 * Creates the stream, or brings an existing one's subject and retention in line with the
 * settings. Idempotent, so every config replica may call it at start and on every check; two
 * replicas creating it at once is not an error.
 */
export async function ensureAuditStream(
  jsm: JetStreamManager,
  settings: AuditStreamSettings,
): Promise<EnsureResult> {
  const wanted = auditStreamConfig(settings);
  const existing = await jsm.streams.info(AUDIT_STREAM).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (!existing) {
    try {
      await jsm.streams.add(wanted);
      return 'created';
    } catch (err) {
      // Another replica created it between our info and add.
      if (!/already in use/i.test(String((err as Error).message))) throw err;
      return 'unchanged';
    }
  }
  const current = existing.config;
  const sameSubjects = current.subjects?.length === 1 && current.subjects[0] === settings.subject;
  if (sameSubjects && current.max_age === wanted.max_age && current.max_bytes === wanted.max_bytes) {
    return 'unchanged';
  }
  // Replicas are changed by operators (nats stream edit): an update here could fail on a
  // cluster that cannot place them, and the retention/subject fix must not wait for that.
  await jsm.streams.update(AUDIT_STREAM, {
    ...current,
    subjects: wanted.subjects,
    max_age: wanted.max_age,
    max_bytes: wanted.max_bytes,
  });
  return 'updated';
}

/** True for JetStream's "stream not found" (10059). */
export function isNotFound(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; code?: string | number; message?: string };
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(String(e?.message));
}

/** The metrics the audit path reports into (see `metrics.ts`). */
export interface AuditHealthMetrics {
  /** 1 while the stream exists and answers, 0 otherwise. */
  setAvailable(up: boolean): void;
  /** Decision events the workers say they published (their `authz.v1.stats` counts). */
  seen(count: number): void;
  /** Decisions published while the stream was missing or JetStream did not answer: not recorded. */
  lost(count: number): void;
}

/** Workers whose counts are remembered at most; beyond it, new ids are ignored (bounded memory). */
const MAX_WORKERS = 10_000;
/** A worker not heard for this long is forgotten (stopped; a restart is a new id). */
const FORGET_WORKER_MS = 60_000;

/** What the last good check saw of the stream. */
interface StreamMark {
  /** When this incarnation of the stream was created: a different value means deleted and re-made. */
  created: string;
  lastSeq: number;
}

/**
 * Watches the audit trail from the outside, without receiving the decision events themselves
 * (that cost nats-server one more delivery and this service a callback per decision, ~11 µs of
 * CPU each): each worker broadcasts how many events it has published (`authz.v1.stats`, once a
 * second), and every `intervalMs` this checks (and re-creates) the stream and reads its state.
 * The events published since the last good check count as lost when the stream turns out
 * missing or JetStream does not answer; when it was deleted and re-made in
 * between (by an operator or another config replica), those the new stream does not hold. The
 * worker never learns of it (its publish is fire-and-forget), so this is where the loss becomes
 * visible (`authz_audit_events_lost_total`).
 */
export class AuditStreamWatch {
  /** Each worker's last count and when it was heard; the first one heard is its baseline. */
  private readonly workers = new Map<string, { count: number; at: number }>();
  /** Events the workers published since this watch started (sum of count increases). */
  private published = 0;
  /** `published` at the last check. */
  private publishedAtCheck = 0;
  private mark: StreamMark | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private sub: ReturnType<NatsConnection['subscribe']> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: AuditStreamSettings & { statsSubject: string },
    private readonly metrics: AuditHealthMetrics,
    private readonly logger: Logger,
    private readonly intervalMs = 5000,
  ) {}

  /** Ensures the stream once (logging, never throwing), then keeps watching. */
  async start(): Promise<void> {
    this.sub = this.nc.subscribe(this.settings.statsSubject, {
      callback: (err, msg) => {
        if (err) return;
        this.heard(msg.data);
      },
    });
    await this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** One worker's count: its increase since the last one is what it published meanwhile. */
  private heard(data: Uint8Array): void {
    let stats: unknown;
    try {
      stats = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      return;
    }
    if (!wire.WorkerStats.check(stats)) return;
    const before = this.workers.get(stats.worker)?.count;
    if (before === undefined && this.workers.size >= MAX_WORKERS) return;
    this.workers.set(stats.worker, { count: stats.published, at: Date.now() });
    // First heard: a baseline (what it published before this watch is not its to judge; a worker
    // says 0 before its first check, so one started later is counted whole). A smaller count is
    // the same id restarted: all of it is new.
    const increase =
      before === undefined ? 0 : stats.published >= before ? stats.published - before : stats.published;
    if (increase > 0) {
      this.published += increase;
      this.metrics.seen(increase);
    }
  }

  /**
   * One check: stream present (or re-created) → available; the events published since the last
   * check that the stream cannot hold are lost.
   */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    const published = this.published;
    const since = published - this.publishedAtCheck;
    const forget = Date.now() - FORGET_WORKER_MS;
    for (const [id, { at }] of this.workers) if (at < forget) this.workers.delete(id);
    try {
      const jsm = await jetstreamManager(this.nc, { timeout: 2000 });
      const result = await ensureAuditStream(jsm, this.settings);
      const info = await jsm.streams.info(AUDIT_STREAM);
      const mark = { created: info.created, lastSeq: info.state.last_seq };
      // Deleted and made again since the last check (here or by anyone): what was published
      // meanwhile and is not in the new stream had nowhere to go.
      const remade =
        this.mark !== undefined && (this.mark.created !== mark.created || mark.lastSeq < this.mark.lastSeq);
      const lost = result === 'created' || remade ? Math.max(0, since - mark.lastSeq) : 0;
      if (lost > 0) {
        this.metrics.lost(lost);
        this.logger.warn(
          { stream: AUDIT_STREAM, lost, result },
          'audit stream was missing; events were lost',
        );
      } else if (result !== 'unchanged') {
        this.logger.info({ stream: AUDIT_STREAM, result }, 'audit stream ready');
      }
      this.mark = mark;
      this.metrics.setAvailable(true);
    } catch (err) {
      this.metrics.setAvailable(false);
      this.metrics.lost(since);
      this.logger.warn(
        { stream: AUDIT_STREAM, lost: since, err: (err as Error).message },
        'audit stream unavailable; decisions still flow but are not recorded',
      );
    } finally {
      this.publishedAtCheck = published;
      this.checking = false;
    }
  }

  /** Stops watching. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sub?.unsubscribe();
  }
}
