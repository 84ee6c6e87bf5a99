import { API_BASE } from '../api/client.js';
import type { DecisionEvent } from '../api/types.js';
import { type DecisionFilter, filterQuery, matchesFilter, NO_FILTER } from './filter.js';

/** Rows kept in memory; older ones fall off the end. */
export const MAX_ROWS = 500;

/** A received decision with a local sequence number (a stable key for the table). */
export interface DecisionRow {
  seq: number;
  event: DecisionEvent;
}

/** Connection state shown next to the table. */
export type FeedState = 'connecting' | 'live' | 'reconnecting' | 'closed';

/**
 * The live stream of decisions (`GET /console/api/$decisions`, Server-Sent Events), opened once
 * the admin is signed in and kept while the console is open, so decisions made from "Try a
 * request" are in the table when the admin turns to it. Newest first, at most {@link MAX_ROWS}.
 */
export class DecisionFeed {
  rows: DecisionRow[] = [];
  state: FeedState = 'closed';
  filter: DecisionFilter = NO_FILTER;
  private source: EventSource | undefined;
  private seq = 0;
  private readonly listeners = new Set<() => void>();

  /** Calls `listener` on every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** (Re)connects with `filter`; rows the new filter excludes are dropped. */
  connect(filter: DecisionFilter = this.filter): void {
    this.close();
    this.filter = filter;
    this.rows = this.rows.filter((row) => matchesFilter(row.event, filter));
    const source = new EventSource(`${API_BASE}/$decisions${filterQuery(filter)}`);
    this.source = source;
    this.state = 'connecting';
    source.onopen = () => this.set('live');
    source.onerror = () => this.set(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    source.addEventListener('decision', (msg) => this.receive((msg as MessageEvent<string>).data));
    this.emit();
  }

  /** Stops the stream (sign-out). */
  close(): void {
    this.source?.close();
    this.source = undefined;
    this.set('closed');
  }

  /** Forgets every row. */
  clear(): void {
    this.rows = [];
    this.emit();
  }

  private receive(data: string): void {
    let event: DecisionEvent;
    try {
      event = JSON.parse(data) as DecisionEvent;
    } catch {
      return;
    }
    this.rows = [{ seq: ++this.seq, event }, ...this.rows].slice(0, MAX_ROWS);
    this.emit();
  }

  private set(state: FeedState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}
