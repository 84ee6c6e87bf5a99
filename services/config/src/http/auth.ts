import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';

/** The challenge sent with every 401 (RFC 7617 §2). */
export const BASIC_CHALLENGE = 'Basic realm="authz", charset="UTF-8"';

// Comparing digests gives equal-length inputs to timingSafeEqual, so neither the length nor the
// content of the expected credentials leaks through timing.
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * HTTP Basic authentication against one admin account, compared in constant time.
 *
 * @example
 * const auth = new AdminAuth('admin', process.env.CONFIG_ADMIN_PASSWORD!);
 * auth.verify(req.headers.authorization); // throws ApiError ERR_UNAUTHORIZED
 */
export class AdminAuth {
  private readonly user: Buffer;
  private readonly password: Buffer;

  constructor(user: string, password: string) {
    if (password === '') throw new Error('the admin password must not be empty');
    this.user = digest(user);
    this.password = digest(password);
  }

  /** Whether `header` carries the admin credentials. */
  matches(header: string | undefined): boolean {
    const credentials = parseBasic(header);
    if (!credentials) return false;
    return this.matchesCredentials(credentials.user, credentials.password);
  }

  /** Whether `user` / `password` are the admin's (the console's sign-in form). */
  matchesCredentials(user: string, password: string): boolean {
    // Both comparisons always run: which half was wrong must not show in the timing either.
    const userOk = timingSafeEqual(digest(user), this.user);
    const passwordOk = timingSafeEqual(digest(password), this.password);
    return userOk && passwordOk;
  }

  /** Throws a 401 {@link ApiError} with the Basic challenge unless `header` is the admin's. */
  verify(header: string | undefined): void {
    if (this.matches(header)) return;
    throw new ApiError(
      'ERR_UNAUTHORIZED',
      header ? 'the admin credentials are wrong' : 'admin credentials are required (HTTP Basic)',
      { headers: { 'www-authenticate': BASIC_CHALLENGE } },
    );
  }
}

/** Splits an `Authorization: Basic …` header; `undefined` when it is absent or not Basic. */
export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (!header || header.length > 4096) return undefined;
  const match = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
