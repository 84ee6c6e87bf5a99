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
  /** Decisions seen on the subject (core NATS) by this config replica. */
  seen(count: number): void;
  /** Decisions seen while the stream was missing or JetStream did not answer: not recorded. */
  lost(count: number): void;
}

/**
 * Watches the audit trail from the outside: counts the decision events published on core NATS
 * and, every `intervalMs`, checks (and re-creates) the stream. Events seen since the last good
 * check when the stream turns out missing or JetStream does not answer are counted as lost —
 * the worker never learns of it (its publish is fire-and-forget), so this is where the loss
 * becomes visible (`authz_audit_events_lost_total`).
 */
export class AuditStreamWatch {
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private sub: ReturnType<NatsConnection['subscribe']> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: AuditStreamSettings,
    private readonly metrics: AuditHealthMetrics,
    private readonly logger: Logger,
    private readonly intervalMs = 5000,
  ) {}

  /** Ensures the stream once (logging, never throwing), then keeps watching. */
  async start(): Promise<void> {
    this.sub = this.nc.subscribe(this.settings.subject, {
      callback: () => {
        this.pending++;
        this.metrics.seen(1);
      },
    });
    await this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** One check: stream present (or re-created) → available; else the pending events are lost. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    const counted = this.pending;
    try {
      const jsm = await jetstreamManager(this.nc, { timeout: 2000 });
      const result = await ensureAuditStream(jsm, this.settings);
      if (result === 'created' && counted > 0) {
        // It existed at the last good check and was gone now: whatever arrived in between
        // had nowhere to go.
        this.metrics.lost(counted);
        this.logger.warn({ stream: AUDIT_STREAM, lost: counted }, 'audit stream was missing; re-created it');
      } else if (result !== 'unchanged') {
        this.logger.info({ stream: AUDIT_STREAM, result }, 'audit stream ready');
      }
      this.metrics.setAvailable(true);
      this.pending -= counted;
    } catch (err) {
      this.metrics.setAvailable(false);
      this.metrics.lost(counted);
      this.pending -= counted;
      this.logger.warn(
        { stream: AUDIT_STREAM, lost: counted, err: (err as Error).message },
        'audit stream unavailable; decisions still flow but are not recorded',
      );
    } finally {
      this.checking = false;
    }
  }

  /** Stops watching. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sub?.unsubscribe();
  }
}
