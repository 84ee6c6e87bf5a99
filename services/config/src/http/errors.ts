import { type IssueCode, type OperationOutcome, operationOutcome } from '@authz/protocol';

/** Stable codes of every error the config API answers with. */
export type ApiErrorCode =
  | 'ERR_BODY_UNPARSABLE'
  | 'ERR_BAD_REQUEST'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_FORBIDDEN'
  | 'ERR_NOT_FOUND'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_PRECONDITION_FAILED'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_MEDIA_TYPE_UNSUPPORTED'
  | 'ERR_RESOURCE_INVALID'
  | 'ERR_TOO_MANY_STREAMS'
  | 'ERR_TOO_MANY_ATTEMPTS'
  | 'ERR_UNAVAILABLE'
  | 'ERR_INTERNAL';

/** One problem, with the FHIRPath-like location of the offending field when there is one. */
export interface ApiIssue {
  code: IssueCode;
  diagnostics: string;
  expression?: string;
}

/**
 * The one mapping from an error code to an HTTP status and the FHIR issue type of its
 * OperationOutcome (STYLE: "the mapping from an error code to a reply lives in exactly one place").
 */
export const API_ERRORS: Readonly<Record<ApiErrorCode, { status: number; issue: IssueCode }>> = {
  ERR_BODY_UNPARSABLE: { status: 400, issue: 'structure' },
  ERR_BAD_REQUEST: { status: 400, issue: 'value' },
  ERR_UNAUTHORIZED: { status: 401, issue: 'login' },
  ERR_FORBIDDEN: { status: 403, issue: 'forbidden' },
  ERR_NOT_FOUND: { status: 404, issue: 'not-found' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, issue: 'not-supported' },
  ERR_PRECONDITION_FAILED: { status: 412, issue: 'conflict' },
  ERR_BODY_TOO_LARGE: { status: 413, issue: 'too-long' },
  ERR_MEDIA_TYPE_UNSUPPORTED: { status: 415, issue: 'not-supported' },
  ERR_RESOURCE_INVALID: { status: 422, issue: 'invalid' },
  ERR_TOO_MANY_STREAMS: { status: 429, issue: 'throttled' },
  ERR_TOO_MANY_ATTEMPTS: { status: 429, issue: 'throttled' },
  ERR_UNAVAILABLE: { status: 503, issue: 'transient' },
  ERR_INTERNAL: { status: 500, issue: 'exception' },
};

/**
 * An error the API answers as a FHIR OperationOutcome. `issues` default to one issue carrying
 * the message; `headers` are added to the reply (`WWW-Authenticate`, `Allow`).
 */
export class ApiError extends Error {
  readonly issues: ApiIssue[];
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options: { issues?: ApiIssue[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.issues = options.issues ?? [{ code: API_ERRORS[code].issue, diagnostics: message }];
    this.headers = options.headers ?? {};
  }

  /** HTTP status of this error. */
  get status(): number {
    return API_ERRORS[this.code].status;
  }

  /** The reply body. */
  toOutcome(): OperationOutcome {
    return operationOutcome(this.issues);
  }
}

/** A 422 listing every problem of a resource. */
export function invalidResource(issues: ApiIssue[]): ApiError {
  const summary = issues
    .slice(0, 3)
    .map((i) => (i.expression ? `${i.expression}: ${i.diagnostics}` : i.diagnostics))
    .join('; ');
  return new ApiError('ERR_RESOURCE_INVALID', `invalid resource: ${summary}`, { issues });
}
