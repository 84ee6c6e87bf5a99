import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

/** Why a request got no reply. */
export type RequestFailure = 'no-responders' | 'timeout' | 'closed';

interface Pending {
  resolve(result: Msg | RequestFailure): void;
  timer: NodeJS.Timeout;
}

interface Queued {
  subject: string;
  payload: string | Uint8Array;
  reply: string;
  headers?: MsgHdrs;
}

/**
 * Request/reply over one wildcard inbox subscription, with publishes batched per event-loop turn.
 *
 * nats.js flushes its outbound buffer once per microtask checkpoint, so requests issued from
 * separate HTTP callbacks each cost a socket write; queueing them until `setImmediate` lets one
 * write carry every request of the turn. It also never builds an Error for a request that
 * succeeded (nats.js's `request` does, to cancel its bookkeeping), and resolves failures as values.
 */
export class BatchedRequester {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<string, Pending>();
  private queue: Queued[] = [];
  private scheduled = false;
  private counter = 0;

  constructor(private readonly nc: NatsConnection) {
    this.prefix = createInbox();
    this.sub = nc.subscribe(`${this.prefix}.*`, {
      callback: (err, msg) => {
        if (err) return this.failAll('closed');
        this.settle(msg);
      },
    });
  }

  /** Sends `payload` to `subject`; resolves with the reply message or why there was none. */
  request(
    subject: string,
    payload: string | Uint8Array,
    timeoutMs: number,
    headers?: MsgHdrs,
  ): Promise<Msg | RequestFailure> {
    if (this.nc.isClosed()) return Promise.resolve('closed');
    const id = (++this.counter).toString(36);
    const reply = `${this.prefix}.${id}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve('timeout');
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
      this.queue.push(headers ? { subject, payload, reply, headers } : { subject, payload, reply });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  /** Stops listening; pending requests resolve as `closed`. */
  close(): void {
    this.sub.unsubscribe();
    this.failAll('closed');
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const q of queue) {
      try {
        // Bytes, not a string: nats.js would encode with TextEncoder, several times slower.
        this.nc.publish(
          q.subject,
          typeof q.payload === 'string' ? Buffer.from(q.payload) : q.payload,
          q.headers ? { reply: q.reply, headers: q.headers } : { reply: q.reply },
        );
      } catch {
        this.finish(q.reply.slice(this.prefix.length + 1), 'closed');
      }
    }
  };

  private settle(msg: Msg): void {
    const id = msg.subject.slice(this.prefix.length + 1);
    // The server answers a request nobody is subscribed to with a 503 status message.
    if (msg.headers?.hasError && msg.headers.code === 503 && msg.data.length === 0)
      this.finish(id, 'no-responders');
    else this.finish(id, msg);
  }

  private finish(id: string, result: Msg | RequestFailure): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    entry.resolve(result);
  }

  private failAll(reason: RequestFailure): void {
    for (const [id] of this.pending) this.finish(id, reason);
  }
}
