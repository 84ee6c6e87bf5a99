// Closed-loop NATS request/reply load: `concurrency` loops, each sending the next payload as soon
// as its previous reply arrived, until every payload was sent once.
import { latencyHistogram, percentiles, recordMs } from './histogram.mjs';

/**
 * Sends every payload once (warm-up payloads first, unrecorded) and returns throughput and
 * latency of the measured part. `validate(msg)` returns a problem string for a wrong reply;
 * wrong replies and request errors are counted, never silently averaged in.
 *
 * @returns {{rps: number, p50_us: number, p99_us: number, count: number, failures: number, firstFailure?: string}}
 */
export async function natsLoad(
  nc,
  subject,
  { warmup = [], measured, concurrency, validate, timeoutMs = 10_000 },
) {
  await closedLoop(nc, subject, warmup, concurrency, validate, timeoutMs, undefined);
  const histogram = latencyHistogram();
  const windowStart = monotonicUs();
  const started = performance.now();
  const outcome = await closedLoop(nc, subject, measured, concurrency, validate, timeoutMs, histogram);
  const elapsedMs = performance.now() - started;
  const result = {
    window: [windowStart, monotonicUs()],
    rps: Math.round((measured.length / elapsedMs) * 1000),
    ...percentiles(histogram),
    count: measured.length,
    failures: outcome.failures,
    firstFailure: outcome.firstFailure,
  };
  histogram.destroy();
  return result;
}

/**
 * Microseconds of the monotonic clock V8 stamps .cpuprofile samples with (CLOCK_MONOTONIC, as
 * process.hrtime), so a profile can be cut to the measured window of one scenario.
 */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

async function closedLoop(nc, subject, payloads, concurrency, validate, timeoutMs, histogram) {
  let next = 0;
  let failures = 0;
  let firstFailure;
  const fail = (problem) => {
    failures++;
    firstFailure ??= problem;
  };
  const loop = async () => {
    for (;;) {
      const i = next++;
      if (i >= payloads.length) return;
      const sent = performance.now();
      try {
        const msg = await nc.request(subject, payloads[i], { timeout: timeoutMs });
        if (histogram) recordMs(histogram, performance.now() - sent);
        const problem = validate?.(msg);
        if (problem) fail(problem);
      } catch (err) {
        fail(`request failed: ${err.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, payloads.length)) }, loop));
  return { failures, firstFailure };
}
