import { stringify } from 'yaml';

/** An OperationOutcome issue as the config API answers it. */
export interface OutcomeIssue {
  severity: string;
  code: string;
  diagnostics: string;
  expression?: string[];
}

/** An issue pointed back at the file and field it came from. */
export interface LocatedIssue extends OutcomeIssue {
  file?: string;
  /** `AccessPolicy.matcho.uri`: the field inside the resource. */
  path?: string;
  resource?: string;
}

/** The config service refused the configuration; nothing was written. */
export class RefusedError extends Error {
  readonly code = 'ERR_REFUSED';
  constructor(
    readonly status: number,
    readonly issues: LocatedIssue[],
  ) {
    super(`the config service refused the configuration (${status}); nothing was written`);
    this.name = 'RefusedError';
  }

  /** The OperationOutcome, each issue with its file and path, as YAML for a terminal or CI log. */
  render(): string {
    const lines = this.issues.map(
      (i) => `  ${i.file ? `${i.file}: ` : ''}${i.path ?? i.expression?.[0] ?? ''}: ${i.diagnostics}`,
    );
    const outcome = {
      resourceType: 'OperationOutcome',
      issue: this.issues.map(({ file, path, resource, ...issue }) => ({
        ...issue,
        ...(file ? { extension: [{ url: 'file', valueString: file }] } : {}),
        ...(path ? { expression: [path] } : {}),
      })),
    };
    return `error: ${this.message}\n${lines.join('\n')}\n\n${stringify(outcome)}`;
  }
}
