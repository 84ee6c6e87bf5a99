// Open-loop load (issue 19): requests leave on a fixed schedule whatever the system answers, and
// each latency is taken from the request's *intended* send time. A closed loop waits for a reply
// before sending again, so when the system stalls it stops sending and the stall is recorded
// once instead of for every request that should have been sent meanwhile (coordinated omission).
//
// The scheduler wakes at most every millisecond (Node's timer resolution) and sends every request
// whose intended time has passed; the lateness of that batching is charged to the request, to the
// floor and to the path alike, so "added over the floor" stays fair.
import { latencyHistogram, percentiles, recordMs } from './histogram.mjs';

/**
 * What one request ended as: `ok` (the expected answer), `shed` (an explicit "cannot decide now",
 * a 503 or gRPC UNAVAILABLE), or a problem string (wrong answer, error, timeout).
 * @typedef {'ok' | 'shed' | string} Outcome
 */

/**
 * Sends `send()` at `rate` per second for `durationMs`, then waits (at most `drainMs`) for the
 * requests still in flight. Requests that have not answered by then count as timeouts.
 *
 * @param {{ send: () => Promise<Outcome>, rate: number, durationMs: number, drainMs?: number }} options
 * @returns {Promise<OpenLoopResult>}
 */
export async function openLoop({ send, rate, durationMs, drainMs = 15_000 }) {
  const ok = latencyHistogram();
  const shed = latencyHistogram();
  const tally = { sent: 0, ok: 0, shed: 0, failed: 0, timedOut: 0, firstFailure: undefined };
  const intervalMs = 1000 / rate;
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  let inFlight = 0;
  let maxLagMs = 0;
  const start = performance.now();

  const fire = (intended) => {
    inFlight++;
    tally.sent++;
    send().then(
      (outcome) => settle(intended, outcome),
      (err) => settle(intended, `request failed: ${err?.message ?? err}`),
    );
  };
  const settle = (intended, outcome) => {
    inFlight--;
    const ms = performance.now() - intended;
    if (outcome === 'ok') {
      tally.ok++;
      recordMs(ok, ms);
    } else if (outcome === 'shed') {
      tally.shed++;
      recordMs(shed, ms);
    } else {
      tally.failed++;
      tally.firstFailure ??= outcome;
    }
  };

  await new Promise((resolve) => {
    let next = 0;
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * intervalMs <= now) {
        const intended = start + next * intervalMs;
        maxLagMs = Math.max(maxLagMs, now - intended);
        fire(intended);
        next++;
      }
      if (next >= total) resolve(undefined);
      else setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
    };
    tick();
  });
  const sendingMs = performance.now() - start;
  const drainEnd = performance.now() + drainMs;
  while (inFlight > 0 && performance.now() < drainEnd) await new Promise((r) => setTimeout(r, 5));
  tally.timedOut = inFlight;

  const result = {
    offered_rps: Math.round(rate),
    achieved_send_rps: Math.round((tally.sent / sendingMs) * 1000),
    sent: tally.sent,
    ok: tally.ok,
    shed: tally.shed,
    failed: tally.failed,
    timed_out: tally.timedOut,
    first_failure: tally.firstFailure,
    max_send_lag_ms: Math.round(maxLagMs * 10) / 10,
    ...withP999(ok),
    shed_p99_us: tally.shed > 0 ? percentiles(shed).p99_us : undefined,
  };
  ok.destroy();
  shed.destroy();
  return result;
}

/**
 * @typedef {{ offered_rps: number, achieved_send_rps: number, sent: number, ok: number,
 *   shed: number, failed: number, timed_out: number, first_failure?: string,
 *   max_send_lag_ms: number, p50_us: number, p99_us: number, p999_us: number,
 *   shed_p99_us?: number }} OpenLoopResult
 */

/** @param {import('hdr-histogram-js').Histogram} histogram */
function withP999(histogram) {
  return {
    ...percentiles(histogram),
    p999_us: Math.round(histogram.getValueAtPercentile(99.9)),
  };
}
