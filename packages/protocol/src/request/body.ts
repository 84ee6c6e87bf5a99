import { MAX_JSON_DEPTH } from '../limits.js';
import { contentTypeCharset, formCharsetAmbiguity, isUtf8 } from './charset.js';
import { FORM_MEDIA_TYPE, parseFormBody } from './form.js';
import { checkParsedJson, scanJson } from './json-scan.js';
import { isRefusal, type RequestRefusal, refuse } from './refusal.js';

/**
 * What policies may see of a request body (DESIGN §10): its parsed JSON, the text of a POST's
 * form (its fields are search parameters: policies see them in `params`), or why they cannot see
 * it. A check request carries these as `body`, `body_form` and `body_unavailable`; no policy
 * allows by reading `body` or `resource` of a request whose body is unavailable.
 */
export type BodyView =
  | { readonly json: unknown }
  | { readonly form: string }
  | { readonly unavailable: string };

/** Methods whose requests count as having a body when an entry point cannot see it (forward-auth). */
export const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

/**
 * The one `Content-Type` of a request (DESIGN §10, ambiguity is refused): more than one is refused,
 * since servers disagree on which of them describes the body.
 *
 * @example bodyMediaType({ 'content-type': ['application/json', 'text/plain'] }) // a RequestRefusal
 */
export function bodyMediaType(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | undefined | RequestRefusal {
  const contentType = headers['content-type'];
  if (!Array.isArray(contentType)) return contentType;
  if (contentType.length > 1)
    return refuse('header_ambiguous', 'the request carries more than one Content-Type header');
  return contentType[0];
}

/**
 * True for a JSON media type: `application/json`, `application/fhir+json`, any `+json`
 * (RFC 6839 §3.1). `essence` is the lower-case `type/subtype` without parameters.
 */
export function isJsonMediaType(essence: string): boolean {
  return essence === 'application/json' || (essence.startsWith('application/') && essence.endsWith('+json'));
}

/**
 * Reads a whole request body the way policies see it. JSON media types with identity encoding are
 * parsed strictly: malformed JSON, duplicate object keys (`{"status":"final","status":"x"}` —
 * parsers disagree on which wins), a byte-order mark (RFC 8259 §8.1: never added), invalid UTF-8
 * or nesting deeper than {@link MAX_JSON_DEPTH} are refused (400), so is a Content-Type naming
 * more than one charset ({@link contentTypeCharset}). A POST's
 * `application/x-www-form-urlencoded` body (UTF-8 or no charset, identity encoding) is checked
 * with the query's parser ({@link parseFormBody}: 400/413) and kept as text — unless it names no
 * charset and escapes non-ASCII bytes, which servers decode differently ({@link formCharsetAmbiguity}). Any other body is
 * unavailable, with the reason — a form on another method too: servlet containers read form
 * fields only of a POST, Ring of any method, so which parameters the upstream reads is unclear.
 * An empty body is no body (`undefined`).
 *
 * @example readRequestBody(Buffer.from('{"a":1}'), 'application/fhir+json', undefined, 'PUT') // { json: { a: 1 } }
 * @example readRequestBody(Buffer.from('_id=a'), 'application/x-www-form-urlencoded', undefined, 'POST') // { form: '_id=a' }
 * @example readRequestBody(gzipped, 'application/json', 'gzip', 'POST') // { unavailable: 'the body is gzip-encoded' }
 */
export function readRequestBody(
  bytes: Uint8Array,
  contentType: string | undefined,
  contentEncoding: string | undefined,
  method: string,
): BodyView | RequestRefusal | undefined {
  if (bytes.length === 0) return undefined;
  if (contentType === undefined) return { unavailable: 'the body has no Content-Type' };
  const semi = contentType.indexOf(';');
  const essence = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  const form = essence === FORM_MEDIA_TYPE;
  if (!form && !isJsonMediaType(essence))
    return { unavailable: `the body's media type ${essence || '(empty)'} is not JSON` };
  const charset = contentTypeCharset(contentType);
  if (isRefusal(charset)) return charset;
  if (charset !== undefined && !isUtf8(charset)) {
    return { unavailable: `the body's charset ${charset} is not UTF-8` };
  }
  const encoding = contentEncoding?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    return { unavailable: `the body is ${encoding}-encoded` };
  }
  if (!form) return parseStrictJson(bytes);
  if (method.toUpperCase() !== 'POST') {
    return {
      unavailable: `a form body on a ${method.toUpperCase()}: servers disagree on whether its fields are parameters`,
    };
  }
  return readFormBody(bytes, charset);
}

/**
 * A form body's text once its parameters pass the query's rules (see {@link parseFormBody}), or
 * unavailable when servers would decode its escapes differently ({@link formCharsetAmbiguity}).
 */
function readFormBody(bytes: Uint8Array, charset: string | undefined): BodyView | RequestRefusal {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return refuse('body_form', 'the form body is not valid UTF-8');
  }
  const params = parseFormBody(text);
  if (isRefusal(params)) return params;
  const ambiguity = formCharsetAmbiguity(text, charset);
  return ambiguity === undefined ? { form: text } : { unavailable: ambiguity };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses JSON bytes strictly (see {@link readRequestBody}); a refusal names the problem. */
export function parseStrictJson(bytes: Uint8Array): { json: unknown } | RequestRefusal {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return refuse(
      'body_json',
      'the JSON body starts with a byte order mark (RFC 8259 §8.1); send it without',
    );
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return refuse('body_json', 'the JSON body is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // Duplicate keys or depth name the problem first, as they would on well-formed text.
    const problem = scanJson(text, MAX_JSON_DEPTH);
    if (problem !== undefined) return refuse('body_json', `the JSON body is refused: ${problem}`);
    return refuse('body_json', `the JSON body is malformed: ${(err as Error).message}`);
  }
  const problem = checkParsedJson(text, json, MAX_JSON_DEPTH);
  if (problem !== undefined) return refuse('body_json', `the JSON body is refused: ${problem}`);
  return { json };
}
