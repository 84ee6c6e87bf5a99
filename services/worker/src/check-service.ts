import { randomUUID } from 'node:crypto';
import {
  type CheckReply,
  REQUEST_ID_HEADER,
  type Subjects,
  TRACEPARENT_HEADER,
  WORKER_QUEUE_GROUP,
} from '@authz/protocol';
import type { Logger, NatsConnection } from '@authz/runtime';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { type DecisionDeps, decide } from './decide.js';
import { checkReplyJson, decisionEventJson, scrubExplain } from './events.js';
import type { WorkerMetrics } from './metrics.js';
import { replies } from './replies.js';
import { parseCheckRequest } from './request.js';

/** Options of {@link CheckService}. */
export interface CheckServiceOptions {
  subjects: Subjects;
  maxInflight: number;
  workerId: string;
  logger: Logger;
  metrics: WorkerMetrics;
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
  // Replies and events of one event-loop turn, published together: nats.js writes its buffer
  // once per microtask checkpoint, so batching per turn turns many socket writes into one.
  private outbox: Array<{ msg: Msg; reply: Uint8Array; event: Uint8Array }> = [];
  private flushScheduled = false;

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
        void this.handle(msg);
      },
    });
  }

  /** Stops taking new checks and waits for in-flight ones to be answered. */
  async drain(): Promise<void> {
    if (this.sub && !this.sub.isClosed()) await this.sub.drain();
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.flush();
  }

  private async handle(msg: Msg): Promise<void> {
    const started = performance.now();
    const { metrics } = this.options;
    if (this.inflight >= this.options.maxInflight) {
      metrics.rejectedSaturated.inc();
      this.respond(msg, replies.unavailable('the authorization worker is saturated; retry shortly'));
      return;
    }
    this.inflight++;
    const requestId =
      msg.headers?.get(REQUEST_ID_HEADER) || traceId(msg.headers?.get(TRACEPARENT_HEADER)) || randomUUID();
    let reply: CheckReply;
    let method = '-';
    let uri = '-';
    try {
      const parsed = parseCheckRequest(msg.data);
      if (typeof parsed === 'string') {
        reply = replies.badRequest(parsed);
      } else {
        method = parsed.method;
        uri = parsed.request.uri;
        const decision = await decide(parsed, this.deps);
        reply = decision.reply;
        if (reply.explain) reply.explain = scrubExplain(reply.explain, decision.token);
      }
    } catch (err) {
      this.options.logger.error({ err, requestId }, 'internal error while deciding; denied');
      reply = replies.internalError();
    }
    reply.revision = this.deps.config.revision;
    reply.request_id = requestId;
    const latencyMs = performance.now() - started;
    metrics.decided(reply.status, latencyMs / 1000);
    const event = decisionEventJson(
      { requestId, method, uri, latencyMs, worker: this.options.workerId },
      reply,
    );
    // Bytes, not strings: nats.js would encode with TextEncoder, 4× slower than Buffer.from.
    this.outbox.push({ msg, reply: Buffer.from(checkReplyJson(reply)), event: Buffer.from(event) });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    this.inflight--;
    if (this.inflight === 0 && this.idle) {
      this.idle();
      this.idle = undefined;
    }
  }

  private respond(msg: Msg, reply: CheckReply): void {
    try {
      msg.respond(Buffer.from(checkReplyJson(reply)));
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'could not send reply');
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const batch = this.outbox;
    this.outbox = [];
    for (const item of batch) {
      try {
        item.msg.respond(item.reply);
        // Events are fire-and-forget: losing one during shutdown is not a failed decision.
        this.nc.publish(this.options.subjects.decisions, item.event);
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message }, 'could not send reply');
      }
    }
  };
}

/** The trace id of a W3C traceparent (`00-<trace-id>-<span-id>-<flags>`). */
function traceId(traceparent: string | undefined): string | undefined {
  if (!traceparent) return undefined;
  const parts = traceparent.split('-');
  return parts.length === 4 && parts[1]?.length === 32 ? parts[1] : undefined;
}
