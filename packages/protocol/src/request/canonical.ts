import { MAX_JSON_DEPTH } from '../limits.js';
import { BODY_METHODS } from './body.js';
import { contentTypeCharset, formCharsetAmbiguity, isUtf8, queryCharsetRefusal } from './charset.js';
import { isFormContentType, isUrlencodedContentType, parseFormBody } from './form.js';
import { canonicalHeaders, type RequestHeaders } from './headers.js';
import type { QueryParams } from './query.js';
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
  body_form?: string;
}

/** A check request in canonical form: what every policy context is built from. */
export interface CanonicalCheck {
  readonly target: RequestTarget;
  /** lower-case names, reserved `x-authz-*` spellings dropped */
  readonly headers: RequestHeaders;
  /** set when policies cannot see the body: none of them may allow by reading it */
  readonly bodyUnavailable?: string;
  /** the parameters of a POST's form body (`body_form`): `params` holds them after the query's */
  readonly formParams?: QueryParams;
  /**
   * set when the request's parameters may travel in a body policies cannot see (a POST
   * `_search`, a form): none of them may allow by reading `params`, route parameters aside
   */
  readonly paramsUnseen?: string;
}

/**
 * Applies the rules of DESIGN §10 to a check request, as the worker does for every check from
 * any NATS client (it is the last line, whatever a gateway checked before): the target
 * ({@link parseRequestTarget}), the headers ({@link canonicalHeaders}), a percent-encoded query
 * beside a non-UTF-8 charset ({@link queryCharsetRefusal}) and the body's nesting.
 * A POST, PUT or PATCH that carries neither `body` nor `body_unavailable` counts as having a body
 * nobody showed the worker ({@link UNSENT_BODY}): fail closed, since a client that forgot the body
 * must not let a policy judge "no body". A caller that read an empty body sends `body: null`.
 * A POST's form body comes as `body_form` (its fields parsed with the query's rules into
 * `formParams`); a body that may hold search parameters but came otherwise — a POST `_search`,
 * a form Content-Type — leaves them unseen (`paramsUnseen`). Requests without a body do no more
 * work than before.
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
  const charset = queryCharsetRefusal(target.query, headers['content-type']);
  if (charset !== undefined) return charset;
  if (check.body_form !== undefined) return withForm(check, target, headers, check.body_form);
  if (check.body !== undefined && tooDeep(check.body, MAX_JSON_DEPTH)) {
    return refuse('body_json', `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const unavailable =
    check.body_unavailable ??
    (check.body === undefined && BODY_METHODS.has(check.method?.toUpperCase() ?? '')
      ? UNSENT_BODY
      : undefined);
  // A request without a body (every GET) ends here: nothing more to decide.
  if (unavailable === undefined && (check.body === undefined || check.body === null))
    return { target, headers };
  const unseen = paramsUnseen(check.method, target, headers, unavailable);
  if (unavailable === undefined)
    return unseen === undefined ? { target, headers } : { target, headers, paramsUnseen: unseen };
  return unseen === undefined
    ? { target, headers, bodyUnavailable: unavailable }
    : { target, headers, bodyUnavailable: unavailable, paramsUnseen: unseen };
}

/** A check request with `body_form`: its fields parsed by the query's rules, `body` refused beside it. */
function withForm(
  check: CheckInput,
  target: RequestTarget,
  headers: RequestHeaders,
  form: string,
): CanonicalCheck | RequestRefusal {
  if (check.body !== undefined) {
    return refuse('body_form', 'the check request carries both body and body_form; a request has one body');
  }
  if (check.method?.toUpperCase() !== 'POST') {
    return refuse('body_form', "body_form is the form body of a POST; servers read no other method's form");
  }
  // The upstream reads the body as a form only if told so: fields it would not read are refused.
  const type = headers['content-type'];
  if (typeof type !== 'string' || !isUrlencodedContentType(type)) {
    return refuse(
      'body_form',
      'body_form is sent with one Content-Type: application/x-www-form-urlencoded header, the upstream reads it as a form only then',
    );
  }
  // The upstream decodes the form's escapes with the Content-Type's charset; policies read UTF-8.
  const charset = contentTypeCharset(type);
  if (isRefusal(charset)) return charset;
  if (charset !== undefined && !isUtf8(charset)) {
    return refuse(
      'body_form',
      `body_form is read as UTF-8, and the Content-Type names the charset ${charset.slice(0, 32)}; send a UTF-8 form or body_unavailable`,
    );
  }
  const ambiguity = formCharsetAmbiguity(form, charset);
  if (ambiguity !== undefined) return refuse('body_form', `${ambiguity}; or send body_unavailable`);
  const formParams = parseFormBody(form);
  if (isRefusal(formParams)) return formParams;
  return { target, headers, bodyUnavailable: check.body_unavailable ?? FORM_BODY, formParams };
}

/** What `body` is to policies when the body is a form: its fields are `params`. */
export const FORM_BODY = 'the body is a form; policies see its fields in params';

/**
 * Why a request's parameters may be in a body the worker was not shown as `body_form` (DESIGN
 * §10): a POST to `_search` (any level: system, type, compartment), or a body whose Content-Type
 * is a form. FHIR servers merge such a body's fields into the search parameters.
 */
function paramsUnseen(
  method: string | undefined,
  target: RequestTarget,
  headers: RequestHeaders,
  unavailable: string | undefined,
): string | undefined {
  // `/_search/` too: servers route a trailing slash alike; any case, as some route it so.
  const { segments } = target;
  const last =
    segments[segments.length - 1] === '' ? segments[segments.length - 2] : segments[segments.length - 1];
  const search = last?.toLowerCase() === '_search' && method?.toUpperCase() === 'POST';
  if (!search && !hasFormContentType(headers['content-type'])) return undefined;
  const why = unavailable ?? 'the body is not form-encoded';
  return `the request's search parameters may be in its body, which policies cannot see (${why})`;
}

function hasFormContentType(value: string | string[] | undefined): boolean {
  if (value === undefined) return false;
  return typeof value === 'string' ? isFormContentType(value) : value.some(isFormContentType);
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
