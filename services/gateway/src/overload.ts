/**
 * Load shedding for the gateway's own CPU (issue 19). Past its capacity a Node server does not
 * refuse anything by itself: requests wait in socket buffers and in the event loop, and every
 * client sees seconds of latency. The signal that the gateway itself is the bottleneck is how
 * late the event loop runs a timer: a saturated loop runs it late, a slow upstream or a slow
 * worker does not (their requests wait without using the loop). While the loop is behind by more
 * than `maxLagMs`, new requests are answered at once with 503 (never proxied, never checked): a
 * 503 costs a fraction of a proxied request, so the loop catches up and what is admitted keeps a
 * bounded latency instead of the whole queue growing.
 */
export class OverloadGuard {
  private lagMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private expected = 0;

  /**
   * @param maxLagMs  shed while the smoothed loop lag is above this (0: never shed)
   * @param sampleMs  how often the lag is sampled
   */
  constructor(
    private readonly maxLagMs: number,
    private readonly sampleMs = 10,
  ) {}

  start(): this {
    if (this.maxLagMs <= 0 || this.timer) return this;
    this.expected = performance.now() + this.sampleMs;
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The smoothed event-loop lag, ms (for the reason of a shed request and the metric). */
  get lag(): number {
    return this.lagMs;
  }

  /** Whether a new request should be shed now. */
  overloaded(): boolean {
    return this.maxLagMs > 0 && this.lagMs > this.maxLagMs;
  }

  private sample(): void {
    const now = performance.now();
    const late = Math.max(0, now - this.expected);
    this.expected = now + this.sampleMs;
    // Half the weight on the newest sample: one late timer (a GC pause) alone does not shed at
    // twice the threshold, and the guard lets go within a few samples once the loop catches up.
    this.lagMs = this.lagMs / 2 + late / 2;
  }
}
