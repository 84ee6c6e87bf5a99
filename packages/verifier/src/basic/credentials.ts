/** Credentials of an `Authorization: Basic` header (RFC 7617). */
export interface BasicCredentials {
  id: string;
  secret: string;
}

/** The longest Basic credential accepted (base64 text), bounding the work per request (§10). */
export const MAX_BASIC_CREDENTIALS = 4096;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The credentials of a `Basic` Authorization value (scheme case-insensitive, RFC 7235 §2.1):
 * `undefined` when the scheme is another, a reason string when the value is unusable.
 *
 * @example basicCredentials('Basic YmFzaWM6c2VjcmV0') // { id: 'basic', secret: 'secret' }
 */
export function basicCredentials(value: string): BasicCredentials | string | undefined {
  const trimmed = value.trim();
  const space = trimmed.indexOf(' ');
  const scheme = space < 0 ? trimmed : trimmed.slice(0, space);
  if (scheme.toLowerCase() !== 'basic') return undefined;
  const encoded = space < 0 ? '' : trimmed.slice(space + 1).trim();
  if (encoded === '') return 'the Authorization header says Basic but carries no credentials';
  if (encoded.length > MAX_BASIC_CREDENTIALS)
    return `the Basic credentials are longer than ${MAX_BASIC_CREDENTIALS} characters`;
  // Strict base64 (RFC 4648 §4): Buffer.from would skip what is not base64 and decode the rest.
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded))
    return 'the Basic credentials are not base64 (RFC 7617: base64 of "client-id:secret")';
  const decoded = Buffer.from(encoded, 'base64');
  const text = new TextDecoder('utf-8', { fatal: false }).decode(decoded);
  const colon = text.indexOf(':');
  // RFC 7617 §2: the user-id cannot contain a colon; the secret may.
  if (colon <= 0 || text.includes('\uFFFD') || hasControl(text))
    return 'the Basic credentials must be base64 of "client-id:secret" (UTF-8, no control characters)';
  return { id: text.slice(0, colon), secret: text.slice(colon + 1) };
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
