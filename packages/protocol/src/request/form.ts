import { MAX_FORM_BODY_LENGTH } from '../limits.js';
import { type ParameterSource, parseQueryParams, type QueryParams } from './query.js';
import { type RequestRefusal, refuse } from './refusal.js';

/** The `application/x-www-form-urlencoded` media type (FHIR search by POST, RFC 1866 §8.2.1). */
export const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded';

/** A form body: read by the query's parser, every refusal coded `body_form`, too many is 413. */
const FORM_BODY_SOURCE: ParameterSource = {
  name: 'form body',
  codes: {
    encoding: 'body_form',
    character: 'body_form',
    route: 'body_form',
    tooMany: 'body_form',
    credential: 'body_form',
  },
  tooManyStatus: 413,
};

/**
 * Parses the text of a form body with the query's parser and limits (DESIGN §10): FHIR servers
 * (servlet containers, Ring's wrap-params) read its parameters as search parameters beside the
 * query's. Refused as a query is — malformed or non-UTF-8 percent-encoding, NUL/CR/LF encoded,
 * more than MAX_QUERY_PARAMS parameters (413), `resource/type`/`resource/id`/`resource/vid` — and,
 * since no target check ran first, any raw character a target may not hold (controls, space,
 * non-ASCII: a form body percent-encodes them), and a body longer than
 * {@link MAX_FORM_BODY_LENGTH} (413).
 *
 * @example parseFormBody('_revinclude=Observation%3Asubject') // { _revinclude: 'Observation:subject' }
 */
export function parseFormBody(text: string): QueryParams | RequestRefusal {
  if (text.length > MAX_FORM_BODY_LENGTH) {
    return refuse(
      'body_form',
      `the form body is longer than ${MAX_FORM_BODY_LENGTH} characters; its parameters are never truncated`,
      413,
    );
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x20 && c < 0x7f) continue;
    const what =
      c > 0x7e && c !== 0x7f
        ? 'a raw non-ASCII character (percent-encode it)'
        : `control character 0x${c.toString(16).padStart(2, '0')}`;
    return refuse('body_form', `the form body contains ${what}`);
  }
  return parseQueryParams(text, FORM_BODY_SOURCE);
}

// A prefix, not the essence (RFC 9110 §8.3.1): Ring reads a body as a form when its Content-Type
// merely starts with the form's type (`(.startsWith type "application/x-www-form-urlencoded")`),
// so `application/x-www-form-urlencodedx` and `application/x-www-form-urlencoded+json` are forms
// to it. Case-insensitive, as Jetty compares.
const FORM_CONTENT_TYPE = /^[\t ]*(?:application\/x-www-form-urlencoded|multipart\/form-data)/i;
const URLENCODED_CONTENT_TYPE = /^[\t ]*application\/x-www-form-urlencoded[\t ]*(?:;|$)/i;

/**
 * True when a Content-Type names a form whose fields a FHIR server may read as parameters:
 * `application/x-www-form-urlencoded`, and `multipart/form-data` (Ring's wrap-multipart-params
 * merges its fields too; policies never see them) — any value starting with either, in any case,
 * since Ring tests only the prefix (`application/x-www-form-urlencoded+json` is a form to it).
 *
 * @example isFormContentType('Application/X-WWW-Form-Urlencoded; charset=UTF-8') // true
 * @example isFormContentType('application/x-www-form-urlencoded+json') // true
 */
export function isFormContentType(contentType: string): boolean {
  return FORM_CONTENT_TYPE.test(contentType);
}

/** True when a Content-Type is {@link FORM_MEDIA_TYPE}, the one form `body_form` carries. */
export function isUrlencodedContentType(contentType: string): boolean {
  return URLENCODED_CONTENT_TYPE.test(contentType);
}
