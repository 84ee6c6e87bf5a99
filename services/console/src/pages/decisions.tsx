import { useEffect, useState } from 'preact/hooks';
import type { DecisionFeed, DecisionRow } from '../decisions/feed.js';
import type { DecisionFilter } from '../decisions/filter.js';

const STATE_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  closed: 'not connected',
} as const;

/**
 * Decisions: the live table of `authz.v1.decisions` (newest first), filtered on the server by
 * status, policy, user and allow. Selecting a row shows the whole event.
 */
export function DecisionsPage({ feed }: { feed: DecisionFeed }) {
  const [, redraw] = useState(0);
  const [filter, setFilter] = useState<DecisionFilter>(feed.filter);
  const [selected, setSelected] = useState<DecisionRow>();

  useEffect(() => feed.subscribe(() => redraw((n) => n + 1)), [feed]);

  const field = (name: keyof DecisionFilter) => (e: Event) =>
    setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value });

  return (
    <div class="decisions">
      <form
        class="filters"
        aria-label="Decision filters"
        onSubmit={(e) => {
          e.preventDefault();
          setSelected(undefined);
          feed.connect(filter);
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
      <div class="decisions-body">
        <table class="decision-table">
          <caption class="visually-hidden">Recent decisions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">time</th>
              <th scope="col">status</th>
              <th scope="col">method</th>
              <th scope="col">uri</th>
              <th scope="col">policy</th>
              <th scope="col">user</th>
              <th scope="col">introspector</th>
              <th scope="col">ms</th>
            </tr>
          </thead>
          <tbody>
            {feed.rows.map((row) => (
              <tr
                key={row.seq}
                class={`${row.event.allow ? 'allowed' : 'denied'}${row === selected ? ' selected' : ''}`}
                data-request-id={row.event.request_id}
                onClick={() => setSelected(row)}
              >
                <td>
                  <button
                    type="button"
                    class="link"
                    onClick={() => setSelected(row)}
                    aria-pressed={row === selected}
                  >
                    {timeOf(row.event.time)}
                  </button>
                </td>
                <td>
                  <span class={`status-code ${row.event.allow ? 'ok' : 'bad'}`}>{row.event.status}</span>
                </td>
                <td>{row.event.method}</td>
                <td class="uri">{row.event.uri}</td>
                <td>{row.event.policy ?? ''}</td>
                <td>{row.event.user ?? ''}</td>
                <td>{row.event.introspector ?? ''}</td>
                <td>{typeof row.event.latency === 'number' ? row.event.latency.toFixed(2) : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
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

function timeOf(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString(undefined, { hour12: false });
}
