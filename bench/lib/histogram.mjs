// Latency histograms: HDR (3 significant digits), values in microseconds.
import * as hdr from 'hdr-histogram-js';

/** A new histogram for latencies from 1 µs to 2 minutes. */
export function latencyHistogram() {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Records a latency given in milliseconds (performance.now() deltas). */
export function recordMs(histogram, ms) {
  histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
}

/** `{p50_us, p99_us}` of a histogram. */
export function percentiles(histogram) {
  return {
    p50_us: histogram.getValueAtPercentile(50),
    p99_us: histogram.getValueAtPercentile(99),
  };
}
