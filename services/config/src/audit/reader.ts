import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { type AuditDecision, outcomeOf } from './balp.js';
import { type AuditQuery, matchesQuery } from './search.js';
import { AUDIT_STREAM, isNotFound } from './stream.js';

/**
 * Bounds of one search. The stream is only filterable by subject, and every event shares one,
 * so filters run here: a query reads the stream backwards in windows and stops at the first of
 * `_count` matches, `maxScanned` messages or `deadlineMs` — then answers what it found with a
 * `next` cursor, never an unbounded scan.
 */
export interface AuditReadLimits {
  /** Messages read per window (one ordered consumer each). */
  window: number;
  /** Messages examined per query at most. */
  maxScanned: number;
  /** Wall-clock budget of one query, ms. */
  deadlineMs: number;
  /**
   * How far the time nats-server stored an event may be from the worker's decision time (clock
   * skew, queueing): the stream's own timestamps bound the scan by `date`, this widens them.
   */
  slackMs: number;
}

export const DEFAULT_READ_LIMITS: AuditReadLimits = {
  window: 500,
  maxScanned: 100_000,
  deadlineMs: 5000,
  slackMs: 60_000,
};

/** One page of a search, newest first. */
export interface AuditPage {
  entries: Array<{ seq: number; event: AuditDecision }>;
  /** Messages examined. */
  scanned: number;
  /** Pass as `_cursor` to continue below what this page covered; absent when nothing is left. */
  next?: number;
  /** Set when a bound, not the end of the stream or `_count`, ended the page. */
  stoppedBy?: 'scanned' | 'deadline';
}

/** Reads {@link AuditPage}s from the `AUTHZ_DECISIONS` stream. */
export class AuditReader {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly limits: AuditReadLimits = DEFAULT_READ_LIMITS,
  ) {}

  /** Searches newest first; resolves `undefined` when the stream does not exist. */
  async search(query: AuditQuery): Promise<AuditPage | undefined> {
    const info = await this.jsm.streams.info(AUDIT_STREAM).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!info) return undefined;
    const first = info.state.first_seq;
    let top = Math.min(info.state.last_seq, (query.before ?? Number.MAX_SAFE_INTEGER) - 1);
    if (query.to !== undefined && top >= first) {
      top = await this.lastAtOrBefore(first, top, query.to + this.limits.slackMs);
    }
    const page: AuditPage = { entries: [], scanned: 0 };
    const deadline = Date.now() + this.limits.deadlineMs;
    const floor = query.from === undefined ? undefined : query.from - this.limits.slackMs;
    let hi = top;
    while (hi >= first && hi > 0) {
      if (page.scanned >= this.limits.maxScanned || Date.now() > deadline) {
        page.stoppedBy = page.scanned >= this.limits.maxScanned ? 'scanned' : 'deadline';
        page.next = hi + 1;
        return page;
      }
      const lo = Math.max(first, hi - this.limits.window + 1);
      const window = await this.readWindow(lo, hi);
      for (let i = window.length - 1; i >= 0; i--) {
        const { seq, time, data } = window[i] as WindowMsg;
        page.scanned++;
        if (floor !== undefined && time < floor) return page;
        const event = parse(data);
        if (!event || !matchesQuery(event, outcomeOf(event), query)) continue;
        page.entries.push({ seq, event });
        if (page.entries.length >= query.count) {
          if (seq > first) page.next = seq;
          return page;
        }
      }
      hi = lo - 1;
    }
    return page;
  }

  /**
   * One event by its sequence: `null` when there is none (never written, or aged out),
   * `undefined` when the stream itself does not exist.
   */
  async get(seq: number): Promise<AuditDecision | null | undefined> {
    try {
      const msg = await this.jsm.streams.getMessage(AUDIT_STREAM, { seq });
      return (msg && parse(msg.data)) ?? null;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      // JetStream 10037: no message with that sequence.
      if ((err as { api_error?: { err_code?: number } }).api_error?.err_code === 10037) return null;
      if (/no message found/i.test(String((err as Error).message))) return null;
      throw err;
    }
  }

  /**
   * The highest sequence in `[first, top]` stored at or before `time` (binary search on the
   * stream's timestamps: ~log2(n) single-message reads), or `first - 1` when there is none.
   */
  private async lastAtOrBefore(first: number, top: number, time: number): Promise<number> {
    let lo = first;
    let hi = top;
    let found = first - 1;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const msg = await this.jsm.streams.getMessage(AUDIT_STREAM, { seq: mid }).catch(() => null);
      // A missing message (aged out meanwhile) is older than anything left: search above it.
      if (!msg || msg.time.getTime() <= time) {
        if (msg) found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Messages `lo..hi` in order, through one short-lived ordered consumer. */
  private async readWindow(lo: number, hi: number): Promise<WindowMsg[]> {
    const consumer = await this.js.consumers.get(AUDIT_STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: lo,
    });
    const out: WindowMsg[] = [];
    try {
      const msgs = await consumer.fetch({ max_messages: hi - lo + 1, expires: 2000 });
      for await (const m of msgs) {
        if (m.seq > hi) break;
        out.push({ seq: m.seq, time: m.time.getTime(), data: m.data });
        if (m.seq === hi) break;
      }
    } finally {
      await consumer.delete().catch(() => {});
    }
    return out;
  }
}

interface WindowMsg {
  seq: number;
  time: number;
  data: Uint8Array;
}

/** An event as stored; anything that is not a decision event (a stray publish) is skipped. */
function parse(data: Uint8Array): AuditDecision | undefined {
  try {
    const value = JSON.parse(Buffer.from(data).toString('utf8')) as AuditDecision;
    if (value === null || typeof value !== 'object') return undefined;
    if (typeof value.time !== 'string' || typeof value.status !== 'number') return undefined;
    return value;
  } catch {
    return undefined;
  }
}
