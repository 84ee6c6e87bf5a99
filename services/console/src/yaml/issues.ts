import type { OutcomeIssue } from '../api/types.js';
import { locateInYaml, parseExpression, type YamlLocation } from './locate.js';

/** An OperationOutcome issue placed in the text it is about (when it could be). */
export interface PlacedIssue {
  issue: OutcomeIssue;
  /** the expression as written by the server, e.g. `AccessPolicy.matcho.uri` */
  expression?: string;
  location?: YamlLocation;
}

/**
 * Places each issue of a failed save in `text`: a 422's `expression` (`AccessPolicy.matcho.uri`)
 * becomes the span of that field, a 400's "line L, column C" becomes that line. `root` is the
 * resource type the expressions start with.
 */
export function placeIssues(text: string, issues: readonly OutcomeIssue[], root: string): PlacedIssue[] {
  return issues.map((issue) => {
    const expression = issue.expression?.[0];
    if (expression !== undefined) {
      const location = locateInYaml(text, parseExpression(expression, root));
      return location ? { issue, expression, location } : { issue, expression };
    }
    const location = lineColumn(text, issue.diagnostics ?? '');
    return location ? { issue, location } : { issue };
  });
}

/** `… at line 3, column 5 …` in a parser's message → that spot, to the end of its line. */
function lineColumn(text: string, diagnostics: string): YamlLocation | undefined {
  const match = /line (\d+), column (\d+)/.exec(diagnostics);
  if (!match) return undefined;
  const line = Number(match[1]);
  const lines = text.split('\n');
  if (line < 1 || line > lines.length) return undefined;
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  const column = Math.min(Math.max(Number(match[2]) - 1, 0), (lines[line - 1] as string).length);
  return { from: start + column, to: start + (lines[line - 1] as string).length, line, exact: true };
}
