import type { IncomingMessage } from 'node:http';

/** Name of the console's session cookie. */
export const SESSION_COOKIE = 'authz_console';

/** Header every non-GET console API call must carry (a page on another origin cannot set it). */
export const CSRF_HEADER = 'x-authz-console';

/**
 * The console's Content-Security-Policy: everything from this origin only, no inline script or
 * style, no plugins, no framing, no `<base>` tricks, forms post only here.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers on every response under `/console/` (pages, assets, API, errors). */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // For browsers that predate frame-ancestors.
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

/** The value of cookie `name` in a `Cookie` header, or `undefined`. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Whether the request reached us over https: a TLS socket, or a proxy saying so in
 * `X-Forwarded-Proto`. Trusting the header only ever adds `Secure`, which cannot weaken a cookie.
 */
export function isHttps(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  const proto = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim().toLowerCase();
  return first === 'https';
}

/**
 * The `Set-Cookie` value of a session (`maxAge` seconds), or of its removal when `id` is
 * `undefined`: `HttpOnly` (no script reads it), `SameSite=Strict` (no other site sends it),
 * `Secure` over https.
 */
export function sessionCookie(id: string | undefined, maxAge: number, secure: boolean): string {
  const parts = [
    `${SESSION_COOKIE}=${id ?? ''}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${id === undefined ? 0 : maxAge}`,
  ];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}
