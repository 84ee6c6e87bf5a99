import { randomUUID } from 'node:crypto';
import {
  type CheckReply,
  isRefusal,
  REQUEST_ID_HEADER,
  type Subjects,
  TRACEPARENT_HEADER,
  WORKER_QUEUE_GROUP,
} from '@authz/protocol';
import type { Logger, NatsConnection } from '@authz/runtime';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { type Decision, type DecisionDeps, decide } from './decide.js';
import { checkReplyJson, decisionEventJson, scrubExplain, workerStatsJson } from './events.js';
import type { WorkerMetrics } from './metrics.js';
import { replies } from './replies.js';
import { type ParsedCheck, parseCheckRequest } from './request.js';

/** How often a worker broadcasts its published-events count (`authz.v1.stats`). */
export const STATS_INTERVAL_MS = 1000;

/** Options of {@link CheckService}. */
export interface CheckServiceOptions {
  subjects: Subjects;
  maxInflight: number;
  workerId: string;
  logger: Logger;
  metrics: WorkerMetrics;
  /** redacts credential query values from the event's uri (`AUTHZ_REDACT_PARAMS`, DESIGN §11) */
  redactUri: (uri: string) => string;
}

/**
 * Answers `authz.v1.check` in the `authz-workers` queue group. Bounded: beyond `maxInflight`
 * concurrent checks, new ones get an immediate 503 instead of an unbounded queue. `drain`
 * stops taking requests and resolves once every accepted one is answered.
 */
export class CheckService {
  private sub?: Subscription;
  private inflight = 0;
  private idle?: () => void;
  /** Decision events published since start, broadcast on `authz.v1.stats` (audit loss accounting). */
  private published = 0;
  private statsTimer?: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly deps: DecisionDeps,
    private readonly options: CheckServiceOptions,
  ) {
    options.metrics.trackInflight(() => this.inflight);
  }

  start(): void {
    this.sub = this.nc.subscribe(this.options.subjects.check, {
      queue: WORKER_QUEUE_GROUP,
      callback: (err, msg) => {
        if (err) {
          this.options.logger.error({ err: err.message }, 'check subscription error');
          return;
        }
        this.handle(msg);
      },
    });
    // The count starts at 0 before the first check, so a reader that hears it from the start
    // needs no baseline; then once a second, whatever the load (two small messages per worker).
    this.publishStats();
    this.statsTimer = setInterval(() => this.publishStats(), STATS_INTERVAL_MS);
    this.statsTimer.unref();
  }

  /** Stops taking new checks and waits for in-flight ones to be answered. */
  async drain(): Promise<void> {
    if (this.sub && !this.sub.isClosed()) await this.sub.drain();
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    clearInterval(this.statsTimer);
    // The last count, so the events of the final second are not mistaken for lost ones.
    this.publishStats();
  }

  /** `{"worker","published"}` on the stats subject; fire-and-forget like the events it counts. */
  private publishStats(): void {
    try {
      const stats = workerStatsJson(this.options.workerId, this.published);
      this.nc.publish(this.options.subjects.stats, Buffer.from(stats));
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'could not publish worker stats');
    }
  }

  private handle(msg: Msg): void {
    const started = performance.now();
    if (this.inflight >= this.options.maxInflight) {
      this.options.metrics.rejectedSaturated.inc();
      this.send(msg, replies.unavailable('the authorization worker is saturated; retry shortly'));
      return;
    }
    this.inflight++;
    const requestId = requestIdOf(msg);
    let parsed: ParsedCheck | undefined;
    let decision: Decision | Promise<Decision>;
    try {
      const result = parseCheckRequest(msg.data);
      if (typeof result === 'string') decision = { reply: replies.badRequest(result) };
      else if (isRefusal(result)) decision = { reply: replies.refused(result) };
      else {
        parsed = result;
        decision = decide(result, this.deps);
      }
    } catch (err) {
      decision = this.internalError(err, requestId);
    }
    // A decision from memory is answered right here, inside nats.js's read loop: every reply of
    // one socket read then leaves in one write (nats.js flushes once per microtask checkpoint).
    if (!(decision instanceof Promise)) this.finish(msg, started, requestId, parsed, decision);
    else
      decision.then(
        (d) => this.finish(msg, started, requestId, parsed, d),
        (err: unknown) => this.finish(msg, started, requestId, parsed, this.internalError(err, requestId)),
      );
  }

  private internalError(err: unknown, requestId: string): Decision {
    this.options.logger.error({ err, requestId }, 'internal error while deciding; denied');
    return { reply: replies.internalError() };
  }

  /** Replies, publishes the decision event and counts it; never throws, always answers. */
  private finish(
    msg: Msg,
    started: number,
    requestId: string,
    parsed: ParsedCheck | undefined,
    decision: Decision,
  ): void {
    let replied = false;
    try {
      const { reply } = decision;
      const { presented } = decision;
      if (reply.explain) reply.explain = scrubExplain(reply.explain, presented?.token, presented?.proof);
      reply.revision = this.deps.config.revision;
      reply.request_id = requestId;
      const latencyMs = performance.now() - started;
      this.options.metrics.decided(reply.status, latencyMs / 1000, reply.error_code);
      replied = true;
      this.send(msg, reply, decision.described?.json);
      const event = decisionEventJson(
        {
          requestId,
          method: parsed?.method ?? '-',
          uri: parsed?.request.uri ?? '-',
          latencyMs,
          worker: this.options.workerId,
        },
        reply,
        this.options.redactUri,
      );
      // Events are fire-and-forget: losing one during shutdown is not a failed decision.
      this.nc.publish(this.options.subjects.decisions, Buffer.from(event));
      this.published++;
    } catch (err) {
      this.options.logger.error({ err, requestId }, 'could not finish a decision');
      if (!replied) this.send(msg, { ...replies.internalError(), request_id: requestId });
    } finally {
      this.inflight--;
      if (this.inflight === 0 && this.idle) {
        this.idle();
        this.idle = undefined;
      }
    }
  }

  /** Sends a reply; a failure (connection closing) is logged, never thrown. */
  private send(msg: Msg, reply: CheckReply, identityJson?: string): void {
    try {
      // Bytes, not a string: nats.js would encode with TextEncoder, 4× slower than Buffer.from.
      msg.respond(Buffer.from(checkReplyJson(reply, identityJson)));
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'could not send reply');
    }
  }
}

/** The gateway's request id, else the trace id of the traceparent, else a new one. */
function requestIdOf(msg: Msg): string {
  try {
    return (
      msg.headers?.get(REQUEST_ID_HEADER) || traceId(msg.headers?.get(TRACEPARENT_HEADER)) || randomUUID()
    );
  } catch {
    return randomUUID(); // unreadable headers: the check itself still gets its answer
  }
}

/** The trace id of a W3C traceparent (`00-<trace-id>-<span-id>-<flags>`). */
function traceId(traceparent: string | undefined): string | undefined {
  if (!traceparent) return undefined;
  const parts = traceparent.split('-');
  return parts.length === 4 && parts[1]?.length === 32 ? parts[1] : undefined;
}
