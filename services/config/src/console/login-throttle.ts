import { ApiError } from '../http/errors.js';

/** How sign-in guessing is slowed down. */
export interface ThrottleLimits {
  /** Every refused sign-in is answered after this long, ms (default 400). */
  failureDelayMs: number;
  /** Refusals one address may collect within {@link windowMs} before it must wait (default 5). */
  maxFailures: number;
  /** Refusals from all addresses together within {@link windowMs} before everyone waits (default 50). */
  maxGlobalFailures: number;
  /** The window failures are counted in, ms (default 5 minutes). */
  windowMs: number;
}

/** Defaults of {@link ThrottleLimits}. */
export const DEFAULT_THROTTLE_LIMITS: ThrottleLimits = {
  failureDelayMs: 400,
  maxFailures: 5,
  maxGlobalFailures: 50,
  windowMs: 5 * 60_000,
};

/** Addresses tracked at once; a flood of addresses cannot grow the map past this. */
const MAX_TRACKED = 10_000;

/**
 * Slows down password guessing on the console sign-in: every refusal is delayed, and an address
 * (or everyone, when refusals come from many addresses) that keeps failing is answered 429 with
 * `Retry-After` until its window passes. A successful sign-in clears the address's count.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  private global: number[] = [];
  private readonly limits: ThrottleLimits;

  constructor(
    limits: Partial<ThrottleLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_THROTTLE_LIMITS, ...limits };
  }

  /** Throws a 429 {@link ApiError} while `address` (or everyone) must wait. */
  assertAllowed(address: string): void {
    const now = this.now();
    const own = this.recent(this.failures.get(address) ?? [], now);
    this.global = this.recent(this.global, now);
    const blockedBy =
      own.length >= this.limits.maxFailures
        ? own
        : this.global.length >= this.limits.maxGlobalFailures
          ? this.global
          : undefined;
    if (!blockedBy) return;
    const retryAfter = Math.max(1, Math.ceil(((blockedBy[0] ?? now) + this.limits.windowMs - now) / 1000));
    throw new ApiError('ERR_TOO_MANY_ATTEMPTS', `too many failed sign-ins; try again in ${retryAfter} s`, {
      headers: { 'retry-after': String(retryAfter) },
    });
  }

  /** Records a refusal for `address` and resolves after the failure delay. */
  async fail(address: string): Promise<void> {
    const now = this.now();
    if (!this.failures.has(address) && this.failures.size >= MAX_TRACKED) {
      const first = this.failures.keys().next().value;
      if (first !== undefined) this.failures.delete(first);
    }
    const own = this.recent(this.failures.get(address) ?? [], now);
    own.push(now);
    this.failures.set(address, own);
    this.global = this.recent(this.global, now);
    this.global.push(now);
    await new Promise((resolve) => setTimeout(resolve, this.limits.failureDelayMs));
  }

  /** Forgets the refusals of `address` after it signed in. */
  succeed(address: string): void {
    this.failures.delete(address);
  }

  private recent(times: number[], now: number): number[] {
    const since = now - this.limits.windowMs;
    return times.filter((t) => t > since);
  }
}
