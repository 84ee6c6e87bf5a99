// One scenario's measurement, accumulated over interleaved rounds: on a shared machine the load
// drifts over tens of seconds, so every scenario of a group is measured a slice at a time, round
// after round, and each result covers the whole run instead of one moment of it.
import * as hdr from 'hdr-histogram-js';
import { latencyHistogram, percentiles } from './histogram.mjs';

/** Requests, time, failures and the latency histogram of one scenario across its rounds. */
export class Measurement {
  constructor(name) {
    this.name = name;
    this.histogram = latencyHistogram();
    this.count = 0;
    this.elapsedMs = 0;
    this.failures = 0;
    this.firstFailure = undefined;
    /** Monotonic-µs windows of the measured slices (for profiles). */
    this.windows = [];
    /** CPU µs used while measured, per role (client, nats-server, responders). */
    this.cpuMicros = {};
    /** Numbers a scenario measures beside its load (e.g. dpop_unique's in-process µs), reported as they are. */
    this.extra = {};
  }

  /** Adds CPU time `micros` used by `role` during one slice. */
  addCpu(role, micros) {
    this.cpuMicros[role] = (this.cpuMicros[role] ?? 0) + micros;
  }

  /**
   * Adds one slice; `histogram` is a live histogram or a compressed base64 one from a child.
   * @param {{count: number, elapsedMs: number, failures: number, firstFailure?: string,
   *          window?: number[], histogram?: any}} slice
   */
  add({ count, elapsedMs, failures, firstFailure, window, histogram }) {
    this.count += count;
    this.elapsedMs += elapsedMs;
    this.failures += failures;
    this.firstFailure ??= firstFailure;
    if (window) this.windows.push(window);
    if (typeof histogram === 'string') {
      const decoded = hdr.decodeFromCompressedBase64(histogram, 32, false);
      this.histogram.add(decoded);
      decoded.destroy();
    } else if (histogram && histogram !== this.histogram) {
      this.histogram.add(histogram);
    }
  }

  /** `{rps, p50_us, p99_us, count, failures, firstFailure}`: rps is all requests over all measured time. */
  result() {
    return {
      rps: Math.round((this.count / this.elapsedMs) * 1000),
      ...percentiles(this.histogram),
      count: this.count,
      failures: this.failures,
      firstFailure: this.firstFailure,
      cpu_us_per_request: Object.keys(this.cpuMicros).length
        ? Object.fromEntries(
            Object.entries(this.cpuMicros).map(([role, us]) => [
              role,
              Math.round((us / this.count) * 10) / 10,
            ]),
          )
        : undefined,
      ...this.extra,
    };
  }
}

/** The `round`-th of `rounds` contiguous slices of `list`. */
export function slice(list, round, rounds) {
  const size = Math.ceil(list.length / rounds);
  return list.slice(round * size, (round + 1) * size);
}
