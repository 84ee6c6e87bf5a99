import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, callApi } from '../api/client.js';
import { DecisionChart } from '../history/chart.js';
import {
  type AuditEvent,
  bucketRows,
  type HistoryFilter,
  type HistoryRow,
  historyQuery,
  NO_HISTORY_FILTER,
  toRow,
} from '../history/query.js';

const PAGE = 25;
/** The chart reads at most this many events of the window (the API's `_count` ceiling). */
const CHART_EVENTS = 1000;
const BUCKETS = 24;
/** The filter's text and time inputs: field, label, input type. */
const TEXT_FIELDS: ReadonlyArray<[keyof HistoryFilter, string, 'text' | 'datetime-local']> = [
  ['user', 'User', 'text'],
  ['client', 'Client', 'text'],
  ['policy', 'Policy', 'text'],
  ['from', 'From', 'datetime-local'],
  ['to', 'To', 'datetime-local'],
];
const OUTCOME_TEXT = { '0': 'allowed', '4': 'denied', '8': 'could not decide' } as const;

interface SearchBundle {
  entry?: Array<{ resource: AuditEvent | { resourceType: 'OperationOutcome' }; search?: { mode: string } }>;
  link?: Array<{ relation: string; url: string }>;
}

/**
 * Decision history from the audit trail (`GET /AuditEvent`): paged newest first, filtered by
 * outcome, user, client, policy and time, with a chart of outcomes and latency over the window.
 */
export function HistoryPanel() {
  const [filter, setFilter] = useState<HistoryFilter>(NO_HISTORY_FILTER);
  const [applied, setApplied] = useState<HistoryFilter>(NO_HISTORY_FILTER);
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<{ rows: HistoryRow[]; next?: string }>({ rows: [] });
  const [chartRows, setChartRows] = useState<HistoryRow[]>([]);
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const cursor = cursors.at(-1);

  useEffect(() => {
    let live = true;
    setLoading(true);
    Promise.all([search(applied, PAGE, cursor), cursor ? undefined : search(applied, CHART_EVENTS)])
      .then(([p, chart]) => {
        if (!live) return;
        setPage(p);
        if (chart) setChartRows(chart.rows);
        setError(undefined);
      })
      .catch((err: unknown) => live && setError(err instanceof ApiFailure ? err.message : String(err)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [applied, cursor]);

  const field = (name: keyof HistoryFilter) => (e: Event) =>
    setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value });
  const window = chartWindow(applied, chartRows);
  const buckets = window ? bucketRows(chartRows, window.from, window.to, BUCKETS) : [];

  return (
    <section class="history" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <form
        class="filters"
        aria-label="History filters"
        onSubmit={(e) => {
          e.preventDefault();
          setCursors([]);
          setApplied(filter);
        }}
      >
        <div class="field">
          <label for="h-outcome">Outcome</label>
          <select id="h-outcome" value={filter.outcome} onChange={field('outcome')}>
            <option value="">any</option>
            <option value="0">allowed</option>
            <option value="4">denied</option>
            <option value="8">could not decide</option>
          </select>
        </div>
        {TEXT_FIELDS.map(([name, label, type]) => (
          <div class="field" key={name}>
            <label for={`h-${name}`}>{label}</label>
            {type === 'text' ? (
              <input id={`h-${name}`} value={filter[name]} onInput={field(name)} size={14} />
            ) : (
              <input id={`h-${name}`} value={filter[name]} onInput={field(name)} type={type} step={1} />
            )}
          </div>
        ))}
        <button type="submit">Search history</button>
        <span class="feed-state" role="status">
          {loading
            ? 'loading…'
            : error
              ? ''
              : `${page.rows.length} shown${cursors.length ? ` · page ${cursors.length + 1}` : ''}`}
        </span>
      </form>
      {error ? <p class="error">{error}</p> : null}
      {window ? (
        <DecisionChart
          buckets={buckets}
          label={`${chartRows.length}${chartRows.length >= CHART_EVENTS ? ' (the newest)' : ''} decisions from ${window.label}`}
        />
      ) : null}
      <HistoryTable rows={page.rows} />
      <div class="pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors([])}>
          Newest
        </button>
        <button
          type="button"
          disabled={!page.next}
          onClick={() => page.next && setCursors([...cursors, page.next])}
        >
          Older
        </button>
      </div>
    </section>
  );
}

async function search(
  filter: HistoryFilter,
  count: number,
  cursor?: string,
): Promise<{ rows: HistoryRow[]; next?: string }> {
  const { body } = await callApi<SearchBundle>('GET', `/AuditEvent${historyQuery(filter, count, cursor)}`);
  const rows = (body.entry ?? [])
    .filter((e) => e.search?.mode !== 'outcome')
    .map((e) => toRow(e.resource as AuditEvent));
  const next = body.link?.find((l) => l.relation === 'next')?.url;
  return {
    rows,
    next: next ? (new URL(next, location.origin).searchParams.get('_cursor') ?? undefined) : undefined,
  };
}

/** The chart's window: the filter's from/to when set, else the span of the events read. */
function chartWindow(
  filter: HistoryFilter,
  rows: HistoryRow[],
): { from: number; to: number; label: string } | undefined {
  if (rows.length === 0) return undefined;
  const times = rows.map((r) => Date.parse(r.time));
  const from = filter.from ? new Date(filter.from).getTime() : Math.min(...times);
  const to = filter.to ? new Date(filter.to).getTime() : Math.max(...times, from + 1000);
  const fmt = (t: number) => new Date(t).toLocaleString(undefined, { hour12: false });
  return { from, to, label: `${fmt(from)} to ${fmt(to)}` };
}

function HistoryTable({ rows }: { rows: readonly HistoryRow[] }) {
  return (
    <table class="history-table">
      <caption class="visually-hidden">Decision history, newest first</caption>
      <thead>
        <tr>
          {['time', 'outcome', 'status', 'method', 'uri', 'policy', 'user', 'client', 'ms'].map((name) => (
            <th key={name} scope="col">
              {name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr
            key={row.id}
            class={row.outcome === '0' ? 'allowed' : 'denied'}
            data-audit-id={row.id}
            title={row.reason}
          >
            <td>{new Date(row.time).toLocaleString(undefined, { hour12: false })}</td>
            <td>{OUTCOME_TEXT[row.outcome]}</td>
            <td>
              <span class={`status-code ${row.outcome === '0' ? 'ok' : 'bad'}`}>{row.status}</span>
            </td>
            <td>{row.method}</td>
            <td class="uri">{row.uri}</td>
            <td>{row.policy ?? ''}</td>
            <td>{row.user ?? ''}</td>
            <td>{row.client ?? ''}</td>
            <td>{row.latency === undefined ? '' : row.latency.toFixed(2)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
