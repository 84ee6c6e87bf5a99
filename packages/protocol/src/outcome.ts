/** FHIR issue type codes used in replies. */
export type IssueCode =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'not-supported'
  | 'not-found'
  | 'conflict'
  | 'too-long'
  | 'security'
  | 'login'
  | 'forbidden'
  | 'exception'
  | 'transient'
  | 'throttled'
  | 'duplicate'
  | 'processing';

/** One problem, with the path of the offending field when there is one. */
export interface OutcomeIssue {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  code: IssueCode;
  diagnostics: string;
  /** FHIRPath-like locations of the offending field, e.g. `AccessPolicy.matcho.uri`. */
  expression?: string[];
}

/** FHIR OperationOutcome: the shape of every error body. */
export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  id?: string;
  issue: OutcomeIssue[];
}

/** Builds an OperationOutcome with error issues. */
export function operationOutcome(
  issues: Array<{ code: IssueCode; diagnostics: string; expression?: string | string[] }>,
): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map(({ code, diagnostics, expression }) => ({
      severity: 'error',
      code,
      diagnostics,
      ...(expression === undefined
        ? {}
        : { expression: Array.isArray(expression) ? expression : [expression] }),
    })),
  };
}
