import type { PlacedIssue } from '../yaml/issues.js';

/** Props of {@link IssueList}. */
export interface IssueListProps {
  title: string;
  issues: readonly PlacedIssue[];
  /** jumps the editor to an issue's place */
  onReveal?(pos: number): void;
}

/**
 * The issues of a refused save or test, each with its field path and line; a placed issue is a
 * button that moves the editor's cursor to it. Announced to screen readers when it appears.
 */
export function IssueList({ title, issues, onReveal }: IssueListProps) {
  if (issues.length === 0) return null;
  return (
    <section class="issues" role="alert" aria-label={title}>
      <h3>{title}</h3>
      <ul>
        {issues.map((placed, i) => (
          <li key={i} class="issue" data-expression={placed.expression}>
            {placed.location && onReveal ? (
              <button type="button" class="link" onClick={() => onReveal(placed.location?.from ?? 0)}>
                line {placed.location.line}
              </button>
            ) : null}
            {placed.expression ? <code class="expression">{placed.expression}</code> : null}
            <span class="diagnostics">{placed.issue.diagnostics ?? placed.issue.code}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** A one-line error message (network failure, 404, 412 …). */
export function ErrorNote({ message }: { message: string | undefined }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;
}
