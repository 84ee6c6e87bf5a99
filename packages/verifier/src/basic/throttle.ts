/** How credential guessing is slowed down. */
export interface FailureThrottleLimits {
  /** Failures one address may collect within {@link windowMs} before it must wait (default 5). */
  maxFailures: number;
  /** The window failures are counted in, ms (default 5 minutes). */
  windowMs: number;
  /** Addresses tracked at once (default 10 000): a flood of addresses cannot grow memory past it. */
  maxTracked: number;
}

const DEFAULTS: FailureThrottleLimits = { maxFailures: 5, windowMs: 5 * 60_000, maxTracked: 10_000 };

/**
 * Counts failed credential checks per client address (DESIGN §11: admin Basic and console
 * sign-ins; §12: Basic clients). An address that keeps failing must wait until its window
 * passes; failures from other addresses never block an address (so nobody can lock the right
 * credentials out from elsewhere). A success clears the address.
 */
export class FailureThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly limits: FailureThrottleLimits;

  constructor(
    limits: Partial<FailureThrottleLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULTS, ...limits };
  }

  /** Seconds `address` must still wait, or 0 when it may try. */
  retryAfter(address: string): number {
    const times = this.failures.get(address);
    if (times === undefined) return 0;
    const now = this.now();
    const recent = this.recent(times, now);
    if (recent.length === 0) {
      this.failures.delete(address);
      return 0;
    }
    if (recent.length < this.limits.maxFailures) return 0;
    return Math.max(1, Math.ceil(((recent[0] as number) + this.limits.windowMs - now) / 1000));
  }

  /** Records a failure of `address`. */
  fail(address: string): void {
    const now = this.now();
    let times = this.failures.get(address);
    if (times === undefined) {
      if (this.failures.size >= this.limits.maxTracked) {
        const oldest = this.failures.keys().next().value;
        if (oldest !== undefined) this.failures.delete(oldest);
      }
      times = [];
    } else {
      this.failures.delete(address); // re-inserted last: the map stays in order of last failure
    }
    const recent = this.recent(times, now);
    recent.push(now);
    // Only the last maxFailures matter for the wait: the list stays bounded.
    if (recent.length > this.limits.maxFailures) recent.shift();
    this.failures.set(address, recent);
  }

  /** Forgets the failures of `address` after it authenticated. */
  succeed(address: string): void {
    this.failures.delete(address);
  }

  private recent(times: number[], now: number): number[] {
    const since = now - this.limits.windowMs;
    let drop = 0;
    while (drop < times.length && (times[drop] as number) <= since) drop++;
    return drop === 0 ? times : times.slice(drop);
  }
}
