import { type RequestRefusal, refuse } from './refusal.js';

// Any `charset=` after the first `;`, as loosely as servers find it: Ring's pattern
// (`;(?:.*\s)?charset=`) finds one after other parameters and whitespace, and takes the last;
// servlet containers take the first (`indexOf("charset=")`).
const CHARSET = /charset[\t ]*=[\t ]*"?([^";\t ,]*)/gi;

/**
 * The charset a Content-Type names, lower-cased, or `undefined` for none. Refused (DESIGN §10,
 * ambiguity is refused): a value naming a charset more than once (`; charset=utf-8;
 * charset=ibm037`), since Ring decodes with the last and servlet containers with the first.
 *
 * @example contentTypeCharset('application/json; charset=UTF-8') // 'utf-8'
 * @example contentTypeCharset('application/json; charset=utf-8; charset=latin1') // a RequestRefusal
 */
export function contentTypeCharset(contentType: string | undefined): string | undefined | RequestRefusal {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(';');
  if (semi === -1) return undefined;
  let charset: string | undefined;
  for (const match of contentType.slice(semi).matchAll(CHARSET)) {
    if (charset !== undefined) {
      return refuse(
        'header_ambiguous',
        'the Content-Type names more than one charset; servers disagree on which one decodes the body and query',
      );
    }
    charset = (match[1] as string).toLowerCase();
  }
  return charset;
}

/** True for the names of UTF-8, the one charset queries and form bodies are read with. */
export function isUtf8(charset: string): boolean {
  return charset === 'utf-8' || charset === 'utf8';
}

// Charsets that read the bytes 0x00–0x7F as ASCII, as UTF-8 does.
const ASCII_COMPATIBLE =
  /^(?:us-?ascii|ascii|iso[-_]?8859-\d{1,2}|latin-?\d{1,2}|l\d|(?:windows|cp)-?125\d)$/;

/**
 * Refuses a percent-encoded query beside a Content-Type charset other than UTF-8 (DESIGN §10):
 * policies read the query's escapes as UTF-8, but Ring's `wrap-params` decodes the query with the
 * request's charset (as Tomcat does with `useBodyEncodingForURI`), so `?_format=%F0%A7%94%93`
 * with `charset=ibm037` is "𧔓" to the policy and "0xml" to the upstream. A query without `%`
 * reads alike in every charset a server accepts for it, and so do escapes of ASCII bytes under a
 * charset that reads ASCII as ASCII (an XML client's `charset=ISO-8859-1` beside
 * `?identifier=http%3A%2F%2Fx%7C1`); an escape of a byte above 0x7F does not.
 */
export function queryCharsetRefusal(
  query: string,
  contentType: string | readonly string[] | undefined,
): RequestRefusal | undefined {
  if (contentType === undefined) return undefined;
  for (const value of typeof contentType === 'string' ? [contentType] : contentType) {
    const charset = contentTypeCharset(value);
    if (typeof charset === 'object') return charset;
    if (
      charset !== undefined &&
      !isUtf8(charset) &&
      query.indexOf('%') !== -1 &&
      (!ASCII_COMPATIBLE.test(charset) || escapesNonAscii(query))
    ) {
      return refuse(
        'query_encoding',
        `the query is percent-encoded and the Content-Type names the charset ${charset.slice(0, 32)}, with which some servers decode the query; send the body as UTF-8 or the query without percent-escapes`,
      );
    }
  }
  return undefined;
}

/** True when a query or form text percent-encodes a byte above 0x7F (`%80`–`%FF`). */
export function escapesNonAscii(query: string): boolean {
  for (let i = query.indexOf('%'); i !== -1 && i + 1 < query.length; i = query.indexOf('%', i + 1)) {
    const high = query.charCodeAt(i + 1) | 0x20; // lower-cased hex digit
    if ((high >= 56 && high <= 57) || (high >= 97 && high <= 102)) return true; // 8–9, a–f
  }
  return false;
}

/**
 * Why a form body without a charset cannot be read as its upstream reads it, or `undefined`: its
 * escapes of bytes above 0x7F are UTF-8 to Ring and to the policies, ISO-8859-1 to a servlet
 * container that sets no request encoding (`name=M%C3%BCller` is "Müller" or "MÃ¼ller").
 */
export function formCharsetAmbiguity(form: string, charset: string | undefined): string | undefined {
  if (charset !== undefined || !escapesNonAscii(form)) return undefined;
  return 'the form body percent-encodes non-ASCII bytes and its Content-Type names no charset: servlet containers decode them as ISO-8859-1, others as UTF-8 (send charset=utf-8)';
}
