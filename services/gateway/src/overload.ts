import { type EventLoopUtilization, performance } from 'node:perf_hooks';

/**
 * Load shedding for the gateway's own CPU (issue 19). Past its capacity a Node server does not
 * refuse anything by itself: requests wait in socket buffers and in the event loop, and every
 * client sees seconds of latency. Two signals say the gateway itself is the bottleneck, and
 * neither moves when an upstream, a worker or an IdP is merely slow (their requests wait without
 * using the loop):
 *
 * - the event loop's **lag**: how late it runs a timer (a loop busy with a backlog runs it late);
 * - its **utilization** over the last window: the share of wall time spent running callbacks (a
 *   loop that never goes idle is saturated even when each callback is short).
 *
 * While either is over its bound, new requests are answered at once with 503 (never proxied,
 * never checked): a 503 costs a fraction of a proxied request, so the loop catches up and what is
 * admitted keeps a bounded latency instead of every request queueing.
 */
export class OverloadGuard {
  private lagMs = 0;
  private busyPercent = 0;
  private timer: NodeJS.Timeout | undefined;
  private expected = 0;
  private samples = 0;
  private windowStart: EventLoopUtilization | undefined;

  /**
   * @param maxLagMs          shed while the smoothed loop lag is above this (0: never for lag)
   * @param maxBusyPercent    shed while the loop was busier than this over the last window (0: never)
   * @param sampleMs          how often the lag is sampled
   * @param samplesPerWindow  samples per utilization window
   */
  constructor(
    private readonly maxLagMs: number,
    private readonly maxBusyPercent = 0,
    private readonly sampleMs = 10,
    private readonly samplesPerWindow = 10,
  ) {}

  start(): this {
    if ((this.maxLagMs <= 0 && this.maxBusyPercent <= 0) || this.timer) return this;
    this.expected = performance.now() + this.sampleMs;
    this.windowStart = performance.eventLoopUtilization();
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The smoothed event-loop lag, ms (for the reason of a shed request). */
  get lag(): number {
    return this.lagMs;
  }

  /** How busy the loop was over the last complete window, percent. */
  get busy(): number {
    return this.busyPercent;
  }

  /** Whether a new request should be shed now. */
  overloaded(): boolean {
    return (
      (this.maxLagMs > 0 && this.lagMs > this.maxLagMs) ||
      (this.maxBusyPercent > 0 && this.busyPercent > this.maxBusyPercent)
    );
  }

  /** Why {@link overloaded} said yes, for the 503's reason. */
  describe(): string {
    return `its event loop is ${Math.round(this.lagMs)} ms behind and was ${Math.round(this.busyPercent)} % busy`;
  }

  private sample(): void {
    const now = performance.now();
    const late = Math.max(0, now - this.expected);
    this.expected = now + this.sampleMs;
    // Half the weight on the newest sample: one late timer (a GC pause) alone does not shed at
    // twice the threshold, and the guard lets go within a few samples once the loop catches up.
    this.lagMs = this.lagMs / 2 + late / 2;
    if (++this.samples < this.samplesPerWindow) return;
    this.samples = 0;
    const window = performance.eventLoopUtilization(this.windowStart);
    this.windowStart = performance.eventLoopUtilization();
    this.busyPercent = window.utilization * 100;
  }
}
