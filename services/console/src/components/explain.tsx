import type { ExplainEntry } from '../api/types.js';

const show = (value: unknown) => (value === undefined ? 'absent' : JSON.stringify(value, null, 2));

/**
 * Per-policy explanation of a decision: the result of each policy, and for a failing one the
 * path into the request context where it failed (highlighted), expected and actual values, the
 * JSON Schema errors, and nested rules of a `complex` policy.
 */
export function ExplainList({ entries }: { entries: readonly ExplainEntry[] }) {
  if (entries.length === 0) return <p class="muted">No policy was a candidate for this request.</p>;
  return (
    <ol class="explain">
      {entries.map((entry, i) => (
        <ExplainItem key={`${entry.policy}-${i}`} entry={entry} />
      ))}
    </ol>
  );
}

function ExplainItem({ entry }: { entry: ExplainEntry }) {
  const verdict = entry.result ? 'allows' : 'fails';
  return (
    <li class={`explain-entry ${entry.result ? 'pass' : 'fail'}`} data-policy={entry.policy}>
      <div class="explain-head">
        <span class={`badge ${entry.result ? 'ok' : 'bad'}`}>{entry.result ? '✓' : '✗'}</span>
        <strong>{entry.policy}</strong> <span class="muted">({entry.engine})</span> {verdict}
      </div>
      {entry.detail ? <p class="detail">{entry.detail}</p> : null}
      {entry.path !== undefined ? (
        <p class="failing">
          failing path{' '}
          <mark class="failing-path">{entry.path === '' ? '(the whole context)' : entry.path}</mark>
        </p>
      ) : null}
      {'expected' in entry || 'actual' in entry ? (
        <dl class="values">
          <dt>expected</dt>
          <dd>
            <pre>{show(entry.expected)}</pre>
          </dd>
          <dt>actual</dt>
          <dd>
            <pre>{show(entry.actual)}</pre>
          </dd>
        </dl>
      ) : null}
      {entry.errors && entry.errors.length > 0 ? (
        <details>
          <summary>{entry.errors.length} schema error(s)</summary>
          <pre>{JSON.stringify(entry.errors, null, 2)}</pre>
        </details>
      ) : null}
      {entry.children && entry.children.length > 0 ? <ExplainList entries={entry.children} /> : null}
    </li>
  );
}
