// Watching what each worker decides, through the decision events (`authz.v1.decisions` carries
// the deciding `worker` as "<host>:<pid>", its config `revision` and `allow`). Requests to the
// queue group land on workers at random, so steady probes reach every worker within a few
// hundred microseconds.
import { latencyHistogram, recordMs } from './histogram.mjs';

const pidOf = (worker) => Number(String(worker).split(':').pop());

/** Sends `payload` to `subject`, `concurrency` at a time, until `stop()` is called. */
function probe(nc, subject, payload, concurrency = 2) {
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        await nc.request(subject, payload, { timeout: 2000 });
      } catch {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
  };
}

/** Resolves once every worker (by pid) decided with a configuration at or past `revision`. */
export async function waitForRevision(nc, subjects, pids, revision, payload, timeoutMs = 120_000) {
  const sub = nc.subscribe(subjects.decisions);
  const stop = probe(nc, subjects.check, payload);
  const caughtUp = new Set();
  const deadline = setTimeout(() => sub.unsubscribe(), timeoutMs);
  for await (const msg of sub) {
    const event = msg.json();
    if (event.revision >= revision) caughtUp.add(pidOf(event.worker));
    if (pids.every((pid) => caughtUp.has(pid))) break;
  }
  clearTimeout(deadline);
  sub.unsubscribe();
  await stop();
  if (!pids.every((pid) => caughtUp.has(pid))) {
    throw new Error(
      `workers ${pids.filter((p) => !caughtUp.has(p))} did not reach revision ${revision} in ${timeoutMs} ms`,
    );
  }
}

/**
 * Config change → visible on every worker. Each iteration flips the `flip` policy through the
 * config API (PUT) and takes the time from just before the PUT until every worker has decided a
 * probe according to the new state (first decision event from that worker with the expected
 * `allow`); the iteration's value is the slowest worker. Events of one worker arrive in order,
 * and an iteration starts only when every worker showed the previous state, so a matching event
 * can only come from the new configuration.
 *
 * @returns {Promise<{p50: number, p99: number, samples: number[]}>} milliseconds
 */
export async function measurePropagation({
  nc,
  subjects,
  pids,
  admin,
  policy,
  probePayload,
  flipUri,
  iterations,
}) {
  const sub = nc.subscribe(subjects.decisions);
  const stopProbes = probe(nc, subjects.check, probePayload, 2);
  let expected;
  let startedAt = 0;
  let seen = new Map();
  /** @type {((value?: unknown) => void) | undefined} */
  let settle;
  const consume = (async () => {
    for await (const msg of sub) {
      const event = msg.json();
      if (expected === undefined || event.uri !== flipUri || event.allow !== expected) continue;
      const pid = pidOf(event.worker);
      if (!seen.has(pid)) seen.set(pid, performance.now() - startedAt);
      if (settle && pids.every((p) => seen.has(p))) settle();
    }
  })();

  const flipTo = async (on) => {
    seen = new Map();
    expected = on;
    const done = new Promise((resolve) => {
      settle = resolve;
    });
    startedAt = performance.now();
    await admin.put(policy(on));
    const timeout = new Promise((resolve) => setTimeout(resolve, 10_000, 'timeout'));
    if ((await Promise.race([done, timeout])) === 'timeout') {
      throw new Error(`config change not visible on workers ${pids.filter((p) => !seen.has(p))} after 10 s`);
    }
    settle = undefined;
    return Math.max(...pids.map((p) => seen.get(p)));
  };

  const histogram = latencyHistogram();
  const samples = [];
  try {
    await flipTo(false); // known starting state, not measured
    for (let i = 0; i < iterations; i++) {
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
      const ms = await flipTo(i % 2 === 0);
      samples.push(ms);
      recordMs(histogram, ms);
    }
  } finally {
    sub.unsubscribe();
    await consume;
    await stopProbes();
  }
  const result = {
    p50: histogram.getValueAtPercentile(50) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    samples,
  };
  histogram.destroy();
  return result;
}
