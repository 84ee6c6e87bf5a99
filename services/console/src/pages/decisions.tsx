import { useEffect, useState } from 'preact/hooks';
import type { DecisionFeed, DecisionRow } from '../decisions/feed.js';
import type { DecisionFilter } from '../decisions/filter.js';
import { HistoryPanel } from './history.js';

const STATE_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  closed: 'not connected',
} as const;

/**
 * Decisions: the history from the audit trail (with its chart) above the live table of `authz.v1.decisions` (newest first), filtered on the server by
 * status, policy, user and allow. Selecting a row shows the whole event.
 */
export function DecisionsPage({ feed }: { feed: DecisionFeed }) {
  const [, redraw] = useState(0);
  const [selected, setSelected] = useState<DecisionRow>();

  useEffect(() => feed.subscribe(() => redraw((n) => n + 1)), [feed]);

  return (
    <div class="decisions">
      <HistoryPanel />
      <h2>Live</h2>
      <FilterForm
        feed={feed}
        onApply={(filter) => {
          setSelected(undefined);
          feed.connect(filter);
        }}
      />
      <div class="decisions-body">
        <DecisionTable rows={feed.rows} selected={selected} onSelect={setSelected} />
        <aside class="event-detail" aria-label="Selected decision">
          {selected ? (
            <>
              <h3>
                {selected.event.method} {selected.event.uri}
              </h3>
              <pre>{JSON.stringify(selected.event, null, 2)}</pre>
            </>
          ) : (
            <p class="muted">Select a row to see the whole event.</p>
          )}
        </aside>
      </div>
    </div>
  );
}

function FilterForm({ feed, onApply }: { feed: DecisionFeed; onApply(filter: DecisionFilter): void }) {
  const [filter, setFilter] = useState<DecisionFilter>(feed.filter);
  const field = (name: keyof DecisionFilter) => (e: Event) =>
    setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value });
  return (
    <form
      class="filters"
      aria-label="Decision filters"
      onSubmit={(e) => {
        e.preventDefault();
        onApply(filter);
      }}
    >
      <div class="field">
        <label for="f-status">Status</label>
        <input
          id="f-status"
          value={filter.status}
          onInput={field('status')}
          placeholder="401,403"
          size={10}
        />
      </div>
      <div class="field">
        <label for="f-policy">Policy</label>
        <input id="f-policy" value={filter.policy} onInput={field('policy')} size={16} />
      </div>
      <div class="field">
        <label for="f-user">User</label>
        <input id="f-user" value={filter.user} onInput={field('user')} size={16} />
      </div>
      <div class="field">
        <label for="f-allow">Allowed</label>
        <select id="f-allow" value={filter.allow} onChange={field('allow')}>
          <option value="">any</option>
          <option value="true">allowed</option>
          <option value="false">denied</option>
        </select>
      </div>
      <button type="submit">Apply filters</button>
      <button type="button" onClick={() => feed.clear()}>
        Clear table
      </button>
      <span class={`feed-state ${feed.state}`} role="status">
        {STATE_TEXT[feed.state]} · {feed.rows.length} shown
      </span>
    </form>
  );
}

interface DecisionTableProps {
  rows: readonly DecisionRow[];
  selected: DecisionRow | undefined;
  onSelect(row: DecisionRow): void;
}

function DecisionTable({ rows, selected, onSelect }: DecisionTableProps) {
  return (
    <table class="decision-table">
      <caption class="visually-hidden">Recent decisions, newest first</caption>
      <thead>
        <tr>
          {['time', 'status', 'method', 'uri', 'policy', 'user', 'introspector', 'ms'].map((name) => (
            <th key={name} scope="col">
              {name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => {
          const { event } = row;
          return (
            <tr
              key={row.seq}
              class={`${event.allow ? 'allowed' : 'denied'}${row === selected ? ' selected' : ''}`}
              data-request-id={event.request_id}
              onClick={() => onSelect(row)}
            >
              <td>
                {/* The row's keyboard handle: the whole row is clickable, the button is focusable. */}
                <button
                  type="button"
                  class="link"
                  onClick={() => onSelect(row)}
                  aria-pressed={row === selected}
                >
                  {timeOf(event.time)}
                </button>
              </td>
              <td>
                <span class={`status-code ${event.allow ? 'ok' : 'bad'}`}>{event.status}</span>
              </td>
              <td>{event.method}</td>
              <td class="uri">{event.uri}</td>
              <td>{event.policy ?? ''}</td>
              <td>{event.user ?? ''}</td>
              <td>{event.introspector ?? ''}</td>
              <td>{typeof event.latency === 'number' ? event.latency.toFixed(2) : ''}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function timeOf(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString(undefined, { hour12: false });
}
