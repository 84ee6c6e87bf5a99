import { MAX_JSON_DEPTH } from '../limits.js';
import { BODY_METHODS } from './body.js';
import { canonicalHeaders, type RequestHeaders } from './headers.js';
import { isRefusal, type RequestRefusal, refuse } from './refusal.js';
import { parseRequestTarget, type RequestTarget } from './target.js';

/** The parts of a check request the canonical model reads (a `CheckRequest` has them all). */
export interface CheckInput {
  /** the HTTP method: a POST, PUT or PATCH is expected to say what became of its body */
  method?: string;
  uri: string;
  headers?: Readonly<Record<string, string | string[]>>;
  body?: unknown;
  body_unavailable?: string;
}

/** A check request in canonical form: what every policy context is built from. */
export interface CanonicalCheck {
  readonly target: RequestTarget;
  /** lower-case names, reserved `x-authz-*` spellings dropped */
  readonly headers: RequestHeaders;
  /** set when policies cannot see the body: none of them may allow by reading it */
  readonly bodyUnavailable?: string;
}

/**
 * Applies the rules of DESIGN §10 to a check request, as the worker does for every check from
 * any NATS client (it is the last line, whatever a gateway checked before): the target
 * ({@link parseRequestTarget}), the headers ({@link canonicalHeaders}) and the body's nesting.
 * A POST, PUT or PATCH that carries neither `body` nor `body_unavailable` counts as having a body
 * nobody showed the worker ({@link UNSENT_BODY}): fail closed, since a client that forgot the body
 * must not let a policy judge "no body". A caller that read an empty body sends `body: null`.
 *
 * @example
 * const checked = canonicalCheck({ uri: '/fhir/Patient/pt-1/../pt-2' });
 * if (isRefusal(checked)) reply400(checked.reason);
 */
export function canonicalCheck(check: CheckInput): CanonicalCheck | RequestRefusal {
  const target = parseRequestTarget(check.uri);
  if (isRefusal(target)) return target;
  const headers = canonicalHeaders(check.headers ?? {});
  if (isRefusal(headers)) return headers;
  if (check.body !== undefined && tooDeep(check.body, MAX_JSON_DEPTH)) {
    return refuse('body_json', `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const unavailable =
    check.body_unavailable ??
    (check.body === undefined && BODY_METHODS.has(check.method?.toUpperCase() ?? '')
      ? UNSENT_BODY
      : undefined);
  return unavailable === undefined ? { target, headers } : { target, headers, bodyUnavailable: unavailable };
}

/** Why policies cannot see the body of a write whose check request says nothing about it. */
export const UNSENT_BODY =
  'the check request of this POST/PUT/PATCH carries neither body nor body_unavailable (send the parsed body, body: null for an empty one, or body_unavailable)';

function tooDeep(value: unknown, budget: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (budget === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (tooDeep(item, budget - 1)) return true;
    return false;
  }
  for (const key in value) if (tooDeep((value as Record<string, unknown>)[key], budget - 1)) return true;
  return false;
}
