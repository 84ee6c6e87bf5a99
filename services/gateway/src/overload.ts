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
 * Shedding everything while a signal is over its bound and nothing otherwise oscillates: the loop
 * catches up in one window, admits the whole offered load in the next, falls behind again, and
 * requests queue for the windows it admits. So the guard keeps an **admitted share** instead,
 * adjusted like TCP's congestion window (AIMD): cut multiplicatively while a signal is over its
 * bound (as far as the lag is over it), grown linearly back to 1 within a second while both are
 * under. Requests
 * beyond the share are answered at once with 503 (never proxied, never checked): a 503 costs a
 * fraction of a proxied request, so the loop stays near its bound and what is admitted keeps a
 * bounded latency. Which requests are admitted is decided by a credit counter, not at random, so
 * the share is exact over any run of requests and a test can reason about it.
 */
/** Per window over a bound the admitted share is multiplied by at most this. */
const MULTIPLICATIVE_CUT = 0.7;
/** Under both bounds the admitted share grows back linearly, from nothing to 1 in this long. */
const RECOVERY_MS = 1000;
/** A share never below this: the gateway keeps serving someone, and keeps learning its load. */
const MIN_SHARE = 0.01;

export class OverloadGuard {
  private lagMs = 0;
  private busyPercent = 0;
  private timer: NodeJS.Timeout | undefined;
  private expected = 0;
  private samples = 0;
  private windowStart: EventLoopUtilization | undefined;
  private share = 1;
  private credit = 0;

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

  /** Whether a signal is over its bound now. */
  overloaded(): boolean {
    return this.lagOver() || this.busyOver();
  }

  /** The share of new requests admitted now, 0.01–1 (1: the gateway is not shedding). */
  get admitted(): number {
    return this.share;
  }

  /**
   * Whether the next request is to be shed. Called once per request that may be shed: each call
   * spends the admitted share's credit, so over any `n` calls about `n × admitted` are let in.
   */
  shed(): boolean {
    if (this.share >= 1) return false;
    this.credit += this.share;
    if (this.credit < 1) return true;
    this.credit -= 1;
    return false;
  }

  /** Why {@link shed} said yes, for the 503's reason. */
  describe(): string {
    return `its event loop is ${Math.round(this.lagMs)} ms behind and was ${Math.round(this.busyPercent)} % busy; admitting ${Math.round(this.share * 100)} % of new requests`;
  }

  private lagOver(): boolean {
    return this.maxLagMs > 0 && this.lagMs > this.maxLagMs;
  }

  private busyOver(): boolean {
    return this.maxBusyPercent > 0 && this.busyPercent > this.maxBusyPercent;
  }

  private sample(): void {
    const now = performance.now();
    const late = Math.max(0, now - this.expected);
    const elapsed = this.sampleMs + late;
    this.expected = now + this.sampleMs;
    // Half the weight on the newest sample: one late timer (a GC pause) alone does not shed at
    // twice the threshold, and the guard lets go within a few samples once the loop catches up.
    this.lagMs = this.lagMs / 2 + late / 2;
    // Lag answers within a sample: a loop seconds behind cuts the share at once, as far as it is
    // behind (a 1 s lag against a 100 ms bound admits a tenth at most).
    if (this.lagOver()) this.cut(Math.min(MULTIPLICATIVE_CUT, this.maxLagMs / this.lagMs));
    else if (!this.busyOver()) this.share = Math.min(1, this.share + elapsed / RECOVERY_MS);
    if (++this.samples >= this.samplesPerWindow) {
      this.samples = 0;
      const window = performance.eventLoopUtilization(this.windowStart);
      this.windowStart = performance.eventLoopUtilization();
      this.busyPercent = window.utilization * 100;
      if (this.busyOver()) this.cut(MULTIPLICATIVE_CUT);
    }
    if (this.share >= 1) this.credit = 0;
  }

  private cut(factor: number): void {
    this.share = Math.max(MIN_SHARE, this.share * factor);
  }
}
