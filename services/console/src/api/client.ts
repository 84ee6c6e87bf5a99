import type { OperationOutcome, OutcomeIssue } from './types.js';

/** Where the admin API is mounted for the console (session cookie instead of Basic). */
export const API_BASE = '/console/api';

/** Header the server requires on every console write (CSRF defence, see the config README). */
const CSRF_HEADER = { 'x-authz-console': '1' };

/** A non-2xx answer, with the OperationOutcome's issues when the server sent one. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly issues: OutcomeIssue[],
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** A successful answer. */
export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** Options of {@link callApi}. */
export interface CallOptions {
  /** an object is sent as JSON; a string as `contentType` (default `text/yaml`) */
  body?: unknown;
  contentType?: string;
  accept?: string;
  headers?: Record<string, string>;
}

let onUnauthorized: () => void = () => {};

/** Registers what happens when the session has ended (any 401 from the API). */
export function whenSignedOut(handler: () => void): void {
  onUnauthorized = handler;
}

/**
 * Calls the admin API through the console mount. The session cookie goes along by itself
 * (same origin); writes carry the CSRF header. Throws {@link ApiFailure} on any non-2xx.
 *
 * @example
 * const { body } = await callApi<Bundle>('GET', '/AccessPolicy');
 */
export async function callApi<T>(
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {
    accept: options.accept ?? 'application/json',
    ...options.headers,
  };
  if (method !== 'GET' && method !== 'HEAD') Object.assign(headers, CSRF_HEADER);
  let body: string | undefined;
  if (typeof options.body === 'string') {
    body = options.body;
    headers['content-type'] = options.contentType ?? 'text/yaml';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers,
      body,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiFailure(0, [], `the config service cannot be reached (${(err as Error).message})`);
  }
  const parsed = await readBody(res);
  if (res.ok) return { status: res.status, headers: res.headers, body: parsed as T };
  if (res.status === 401 && path !== '/session') onUnauthorized();
  const issues = isOutcome(parsed) ? parsed.issue : [];
  throw new ApiFailure(res.status, issues, summarize(res.status, issues, parsed));
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!(res.headers.get('content-type') ?? '').includes('json')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isOutcome(value: unknown): value is OperationOutcome {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as OperationOutcome).resourceType === 'OperationOutcome' &&
    Array.isArray((value as OperationOutcome).issue)
  );
}

function summarize(status: number, issues: OutcomeIssue[], body: unknown): string {
  const first = issues[0]?.diagnostics;
  if (first) return `${status}: ${first}`;
  return `${status}: ${typeof body === 'string' && body !== '' ? body.slice(0, 200) : 'request failed'}`;
}
