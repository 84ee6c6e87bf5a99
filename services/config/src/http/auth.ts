import { createHash, timingSafeEqual } from 'node:crypto';
import { CredentialThrottle, type ThrottleLimits } from './credential-throttle.js';
import { ApiError } from './errors.js';

/** The challenge sent with every 401 (RFC 7617 §2). */
export const BASIC_CHALLENGE = 'Basic realm="authz", charset="UTF-8"';

// Comparing digests gives equal-length inputs to timingSafeEqual, so neither the length nor the
// content of the expected credentials leaks through timing.
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * HTTP Basic authentication against one admin account, compared in constant time, with failed
 * attempts throttled per client address (DESIGN §11).
 *
 * @example
 * const auth = new AdminAuth('admin', process.env.CONFIG_ADMIN_PASSWORD!);
 * await auth.verify(req.headers.authorization, req.socket.remoteAddress); // throws ApiError 401 / 429
 */
export class AdminAuth {
  private readonly user: Buffer;
  private readonly password: Buffer;
  private readonly throttle: CredentialThrottle;

  constructor(user: string, password: string, throttle: Partial<ThrottleLimits> = {}) {
    if (password === '') throw new Error('the admin password must not be empty');
    this.user = digest(user);
    this.password = digest(password);
    this.throttle = new CredentialThrottle(throttle);
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

  /**
   * Resolves when `header` carries the admin's credentials; otherwise throws a 401 {@link ApiError}
   * with the Basic challenge, after the throttle's delay when wrong credentials were sent. An
   * address that sent wrong ones too often gets 429 with `Retry-After` until its window passes;
   * other addresses are not affected. A request without credentials is not counted as a failure.
   */
  async verify(header: string | undefined, address: string): Promise<void> {
    this.throttle.assertAllowed(address);
    if (this.matches(header)) {
      this.throttle.succeed(address);
      return;
    }
    if (header) await this.throttle.fail(address);
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
