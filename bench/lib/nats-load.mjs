// Closed-loop NATS request/reply load: `concurrency` loops, each sending the next payload as soon
// as its previous reply arrived, until every payload was sent once.
import { recordMs } from './histogram.mjs';

/**
 * Microseconds of the monotonic clock V8 stamps .cpuprofile samples with (CLOCK_MONOTONIC, as
 * process.hrtime), so a profile can be cut to the measured window of one scenario.
 */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Sends every payload once (warm-up payloads first, unrecorded) and adds the measured part to
 * `into` (a Measurement). `validate(msg)` returns a problem string for a wrong reply; wrong
 * replies and request errors are counted, never silently averaged in.
 * @param {import('@nats-io/transport-node').NatsConnection} nc
 * @param {string} subject
 * @param {{warmup?: Uint8Array[], measured: Uint8Array[], concurrency: number,
 *          validate?: (msg: import('@nats-io/transport-node').Msg) => string | undefined,
 *          into?: import('./measure.mjs').Measurement, timeoutMs?: number}} options
 */
export async function natsLoad(
  nc,
  subject,
  { warmup = [], measured, concurrency, validate, into, timeoutMs = 10_000 },
) {
  await closedLoop(nc, subject, warmup, concurrency, validate, timeoutMs, undefined);
  const windowStart = monotonicUs();
  const started = performance.now();
  const outcome = await closedLoop(nc, subject, measured, concurrency, validate, timeoutMs, into?.histogram);
  const elapsedMs = performance.now() - started;
  const slice = { count: measured.length, elapsedMs, ...outcome, window: [windowStart, monotonicUs()] };
  into?.add(slice);
  return slice;
}

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
