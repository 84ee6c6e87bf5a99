/**
 * The history view's pure core: its filter as `GET /AuditEvent` search parameters, an
 * AuditEvent as a table row, and rows as chart buckets. No DOM, no fetch: tested in Node.
 */

/** What the admin filters history by (form values, empty = any). */
export interface HistoryFilter {
  /** `''`, `'0'` allowed, `'4'` denied, `'8'` could not decide. */
  outcome: string;
  user: string;
  client: string;
  policy: string;
  /** `datetime-local` values (the browser's local time), or ''. */
  from: string;
  to: string;
}

export const NO_HISTORY_FILTER: HistoryFilter = {
  outcome: '',
  user: '',
  client: '',
  policy: '',
  from: '',
  to: '',
};

/** The search parameters of `GET /AuditEvent` for a filter, a page size and a cursor. */
export function historyQuery(filter: HistoryFilter, count: number, cursor?: string): string {
  const params = new URLSearchParams({ _count: String(count) });
  if (filter.outcome) params.set('outcome', filter.outcome);
  const agents = [
    filter.user.trim() && `User/${filter.user.trim()}`,
    filter.client.trim() && `Client/${filter.client.trim()}`,
  ].filter(Boolean);
  // FHIR: a comma list is "any of"; user AND client is not expressible, so the user wins.
  if (agents.length > 0) params.set('agent', agents[0] as string);
  if (filter.policy.trim()) params.set('policy', filter.policy.trim());
  if (filter.from) params.append('date', `ge${toInstant(filter.from)}`);
  if (filter.to) params.append('date', `le${toInstant(filter.to)}`);
  if (cursor) params.set('_cursor', cursor);
  return `?${params}`;
}

/** A `datetime-local` value (local time, no zone) as a FHIR instant in UTC. */
export function toInstant(local: string): string {
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The AuditEvent fields the console reads (see services/config/src/audit/balp.ts). */
export interface AuditEvent {
  id: string;
  recorded: string;
  outcome: '0' | '4' | '8';
  outcomeDesc?: string;
  agent: Array<{ who: { reference?: string; display?: string; identifier?: { value: string } } }>;
  entity: Array<{ what: { reference?: string }; detail?: Array<{ type: string; valueString: string }> }>;
}

/** One row of the history table. */
export interface HistoryRow {
  id: string;
  time: string;
  outcome: AuditEvent['outcome'];
  status: number;
  method: string;
  uri: string;
  policy?: string;
  user?: string;
  client?: string;
  latency?: number;
  reason?: string;
  event: AuditEvent;
}

/** Flattens an AuditEvent into a {@link HistoryRow}. */
export function toRow(event: AuditEvent): HistoryRow {
  const detail = new Map<string, string>();
  for (const entity of event.entity) for (const d of entity.detail ?? []) detail.set(d.type, d.valueString);
  const ref = (prefix: string) =>
    event.agent
      .map((a) => a.who.reference)
      .find((r) => r?.startsWith(prefix))
      ?.slice(prefix.length);
  const policy = event.entity
    .map((e) => e.what.reference)
    .find((r) => r?.startsWith('AccessPolicy/'))
    ?.slice('AccessPolicy/'.length);
  const query = detail.get('query');
  const latency = Number(detail.get('latency_ms'));
  return {
    id: event.id,
    time: event.recorded,
    outcome: event.outcome,
    status: Number(detail.get('status')),
    method: detail.get('method') ?? '',
    uri: `${detail.get('path') ?? ''}${query ? `?${query}` : ''}`,
    policy,
    user: ref('User/'),
    client: ref('Client/'),
    latency: Number.isFinite(latency) ? latency : undefined,
    reason: detail.get('reason'),
    event,
  };
}

/** One time bucket of the chart. */
export interface Bucket {
  start: number;
  allowed: number;
  denied: number;
  unavailable: number;
  /** Mean decision latency of the bucket's events, ms; undefined when empty. */
  latency?: number;
}

/**
 * Counts rows into `n` equal buckets over `[from, to]` (epoch ms), by outcome, with the mean
 * latency of each. Rows outside the window are ignored.
 */
export function bucketRows(rows: readonly HistoryRow[], from: number, to: number, n: number): Bucket[] {
  const width = Math.max(1, (to - from) / n);
  const buckets: Bucket[] = Array.from({ length: n }, (_, i) => ({
    start: from + i * width,
    allowed: 0,
    denied: 0,
    unavailable: 0,
  }));
  const sums = new Array<number>(n).fill(0);
  const counts = new Array<number>(n).fill(0);
  for (const row of rows) {
    const t = Date.parse(row.time);
    if (!(t >= from && t <= to)) continue;
    const i = Math.min(n - 1, Math.floor((t - from) / width));
    const b = buckets[i] as Bucket;
    if (row.outcome === '0') b.allowed++;
    else if (row.outcome === '8') b.unavailable++;
    else b.denied++;
    if (row.latency !== undefined) {
      sums[i] = (sums[i] as number) + row.latency;
      counts[i] = (counts[i] as number) + 1;
    }
  }
  buckets.forEach((b, i) => {
    if ((counts[i] as number) > 0) b.latency = (sums[i] as number) / (counts[i] as number);
  });
  return buckets;
}
