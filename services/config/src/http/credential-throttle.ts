import { FailureThrottle } from '@authz/verifier';
import { ApiError } from './errors.js';

/** How credential guessing is slowed down. */
export interface ThrottleLimits {
  /** Every refused attempt is answered after this long, ms (default 400). */
  failureDelayMs: number;
  /** Refusals one address may collect within {@link windowMs} before it must wait (default 5). */
  maxFailures: number;
  /** The window failures are counted in, ms (default 5 minutes). */
  windowMs: number;
}

/** Defaults of {@link ThrottleLimits}. */
export const DEFAULT_THROTTLE_LIMITS: ThrottleLimits = {
  failureDelayMs: 400,
  maxFailures: 5,
  windowMs: 5 * 60_000,
};

/**
 * Slows down guessing of the admin credentials (DESIGN §11), for the admin API's HTTP Basic and
 * the console sign-in alike: every refusal is delayed, and an address that keeps failing is
 * answered 429 with `Retry-After` until its window passes. Counting is per client address only
 * (the verifier's {@link FailureThrottle}), so no number of failures from other addresses makes
 * the right credentials fail from a fresh one. A success clears the address's count.
 */
export class CredentialThrottle {
  private readonly failures: FailureThrottle;
  private readonly failureDelayMs: number;

  constructor(limits: Partial<ThrottleLimits> = {}, now: () => number = Date.now) {
    const { failureDelayMs, ...counting } = { ...DEFAULT_THROTTLE_LIMITS, ...limits };
    this.failureDelayMs = failureDelayMs;
    this.failures = new FailureThrottle(counting, now);
  }

  /** Throws a 429 {@link ApiError} with `Retry-After` while `address` must wait. */
  assertAllowed(address: string): void {
    const retryAfter = this.failures.retryAfter(address);
    if (retryAfter === 0) return;
    throw new ApiError(
      'ERR_TOO_MANY_ATTEMPTS',
      `too many failed sign-ins with the admin credentials from this address; try again in ${retryAfter} s (other addresses are not affected)`,
      {
        headers: { 'retry-after': String(retryAfter) },
      },
    );
  }

  /**
   * Records a refusal for `address` (at once, so concurrent attempts all count) and resolves after
   * the failure delay.
   */
  async fail(address: string): Promise<void> {
    this.failures.fail(address);
    await new Promise((resolve) => setTimeout(resolve, this.failureDelayMs));
  }

  /** Forgets the refusals of `address` after it authenticated. */
  succeed(address: string): void {
    this.failures.succeed(address);
  }
}
