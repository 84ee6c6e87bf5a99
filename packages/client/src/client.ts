import type { CheckReply, CheckRequest } from '@authz/protocol';
import { REQUEST_ID_HEADER, subjects, TRACEPARENT_HEADER } from '@authz/protocol';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { type CheckFailureCode, parseReply, unavailableReply } from './failure.js';
import { BatchedRequester, type RequestFailure } from './requester.js';

/** Options of {@link AuthzClient}. */
export interface AuthzClientOptions {
  /** `AUTHZ_SUBJECT_PREFIX`, default `authz`. */
  subjectPrefix?: string;
  /** Overall deadline of one check, including the retry. Default 1000 ms. */
  timeoutMs?: number;
  /** Retry once on timeout / no responders within the deadline (checks are idempotent). Default true. */
  retry?: boolean;
  /**
   * Checks this client keeps waiting for a worker at once; one more is answered 503 at once
   * (`ERR_OVERLOADED`) instead of joining the queue. Past the cluster's capacity a queue only
   * grows, so every request would wait up to the deadline; a bound keeps the wait of admitted
   * checks near `maxInFlight / throughput` and sheds the excess in microseconds. Default 1024.
   */
  maxInFlight?: number;
}

/** Per-call options of {@link AuthzClient.check}. */
export interface CheckOptions {
  requestId?: string;
  traceparent?: string;
  timeoutMs?: number;
  /**
   * The exact JSON text (UTF-8, no byte-order mark) that `request.body` was parsed from, already
   * read strictly (`parseStrictJson` of @authz/protocol: well-formed, no duplicate keys, depth
   * bounded). The message then carries these bytes as `body` instead of serialising the parsed
   * value again; the worker validates the message as always. Ignored when `request.body` is unset.
   */
  bodyJson?: Uint8Array;
}

/**
 * The gateway SDK: asks the worker cluster whether a request may pass.
 *
 * `check` never throws and never allows on failure: no responders, timeouts, transport errors
 * and malformed replies all become a 503 deny.
 *
 * @example
 * const client = new AuthzClient(nc);
 * const reply = await client.check({ method: 'GET', uri: '/fhir/Patient', headers: { authorization } });
 * if (reply.allow) forward(); else deny(reply.status, reply.reason);
 */
export class AuthzClient {
  private readonly subject: string;
  private readonly timeoutMs: number;
  private readonly retry: boolean;
  private readonly requester: BatchedRequester;
  private readonly maxInFlight: number;
  private inFlight = 0;

  constructor(nc: NatsConnection, options: AuthzClientOptions = {}) {
    this.requester = new BatchedRequester(nc);
    this.subject = subjects(options.subjectPrefix).check;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.retry = options.retry ?? true;
    this.maxInFlight = options.maxInFlight ?? 1024;
  }

  /** Checks waiting for a worker now (for metrics). */
  get pending(): number {
    return this.inFlight;
  }

  /** Asks for a decision. Resolves with the worker's reply or a fail-closed 503 reply. */
  async check(request: CheckRequest, options: CheckOptions = {}): Promise<CheckReply> {
    if (this.inFlight >= this.maxInFlight)
      return unavailableReply('ERR_OVERLOADED', `${this.maxInFlight} waiting`);
    this.inFlight++;
    try {
      return await this.decide(request, options);
    } finally {
      this.inFlight--;
    }
  }

  private async decide(request: CheckRequest, options: CheckOptions): Promise<CheckReply> {
    const payload = checkMessage(request, options.bodyJson);
    const deadline = Date.now() + (options.timeoutMs ?? this.timeoutMs);
    let hdrs: ReturnType<typeof natsHeaders> | undefined;
    if (options.requestId || options.traceparent) {
      hdrs = natsHeaders();
      if (options.requestId) hdrs.set(REQUEST_ID_HEADER, options.requestId);
      if (options.traceparent) hdrs.set(TRACEPARENT_HEADER, options.traceparent);
    }
    let attempt = 0;
    for (;;) {
      attempt++;
      const remaining = deadline - Date.now();
      // First try gets most of the budget; a retry gets what is left.
      const timeout = attempt === 1 && this.retry ? Math.max(1, Math.floor(remaining * 0.6)) : remaining;
      const failure = await this.requestOnce(payload, timeout, hdrs);
      if (typeof failure !== 'string') return failure;
      const left = deadline - Date.now();
      if (attempt >= 2 || !this.retry || left < 5) return unavailableReply(failure);
      if (failure === 'ERR_NO_WORKERS') await delay(Math.min(50, left / 4));
    }
  }

  /** Stops the client's reply subscription; later checks answer 503. */
  close(): void {
    this.requester.close();
  }

  private async requestOnce(
    payload: string | Uint8Array,
    timeout: number,
    hdrs: ReturnType<typeof natsHeaders> | undefined,
  ): Promise<CheckReply | CheckFailureCode> {
    const result = await this.requester.request(this.subject, payload, timeout, hdrs);
    return typeof result === 'string' ? FAILURES[result] : parseReply(result.data);
  }
}

const FAILURES: Record<RequestFailure, CheckFailureCode> = {
  'no-responders': 'ERR_NO_WORKERS',
  timeout: 'ERR_CHECK_TIMEOUT',
  closed: 'ERR_TRANSPORT',
};

const BODY_MEMBER = Buffer.from(',"body":');
const CLOSE = Buffer.from('}');

/**
 * The check message: `JSON.stringify(request)`, or, given the body's own validated JSON text, the
 * rest of the request serialised and that text spliced in as its `body` member (a 16 KiB body
 * costs ~100 µs to serialise again). Same JSON value either way (client.test.ts checks it against
 * the wire schema).
 */
export function checkMessage(request: CheckRequest, bodyJson?: Uint8Array): string | Uint8Array {
  if (bodyJson === undefined || request.body === undefined) return JSON.stringify(request);
  const { body: _parsed, ...rest } = request;
  const head = JSON.stringify(rest);
  // A request without members (not a valid check anyway) has no `{…}` to splice into.
  if (head === '{}') return JSON.stringify(request);
  return Buffer.concat([Buffer.from(head.slice(0, -1)), BODY_MEMBER, bodyJson, CLOSE]);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
