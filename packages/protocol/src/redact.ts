/**
 * Query-value redaction for decision and audit events (DESIGN §11 `AUTHZ_REDACT_PARAMS`). One
 * implementation shared by the worker's decision events and the config service's audit events.
 */

/** `AUTHZ_REDACT_PARAMS` when unset (DESIGN §11). */
export const DEFAULT_REDACT_PARAMS: readonly string[] = [
  'access_token',
  'api_key',
  'apikey',
  'code',
  'password',
  'secret',
  'token',
];

/**
 * Credentials by their standard names (RFC 6749 §4.1.2, §5.1; OpenID Connect), redacted whatever
 * `AUTHZ_REDACT_PARAMS` says: a setting can add names, not expose these.
 */
const ALWAYS_REDACTED = ['access_token', 'id_token', 'refresh_token', 'client_secret', 'key'];

/** What a redacted value is replaced by. */
export const REDACTED = '[redacted]';

/** `AUTHZ_REDACT_PARAMS` (comma-separated names) as a list; unset → {@link DEFAULT_REDACT_PARAMS}. */
export function parseRedactParams(raw: string | undefined): string[] {
  if (raw === undefined) return [...DEFAULT_REDACT_PARAMS];
  return raw
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A function replacing the values of the named query parameters (case-insensitive, names
 * percent-decoded) with {@link REDACTED}. A query that contains none of the names and no
 * percent-encoding is returned as it is, without splitting (the common case, on the hot path).
 *
 * @example
 * const redact = queryRedactor(['token']);
 * redact('/cb?token=abc&state=s') // '/cb?token=[redacted]&state=s'
 */
export function queryRedactor(names: readonly string[] = DEFAULT_REDACT_PARAMS): (uri: string) => string {
  const all = [...new Set([...names, ...ALWAYS_REDACTED].map((n) => n.toLowerCase()))];
  const exact = new Set(all);
  const mayHold = new RegExp(`${all.map(escapeRegex).join('|')}|%`, 'i');
  return (uri) => {
    const q = uri.indexOf('?');
    if (q < 0 || !mayHold.test(uri.slice(q + 1))) return uri;
    const parts = uri.slice(q + 1).split('&');
    let changed = false;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const name = part.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replaceAll('+', ' '));
      } catch {
        // keep the raw name
      }
      if (exact.has(decoded.toLowerCase())) {
        parts[i] = `${name}=${REDACTED}`;
        changed = true;
      }
    }
    return changed ? `${uri.slice(0, q)}?${parts.join('&')}` : uri;
  };
}
