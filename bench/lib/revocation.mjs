// "Revocation visible on every worker" (DESIGN §11: within 100 ms), next to config propagation.
// Each iteration mints a fresh token, has every worker verify and cache it, then POSTs
// /$revoke {token} and takes the time from just before the POST until every worker has refused
// it (first decision event with status 401 from that worker for the iteration's probe URI).
import { checkPayload, SUBJECTS } from './cluster.mjs';
import { latencyHistogram, recordMs } from './histogram.mjs';
import { monotonicUs } from './nats-load.mjs';
import { ISS } from './resources.mjs';
import { claimsFor, mintJwt } from './tokens.mjs';

const pidOf = (worker) => Number(String(worker).split(':').pop());

/** Sends `payload` to the check subject, two at a time, until the returned stop() is awaited. */
function probe(nc, payload) {
  let running = true;
  const loops = [0, 1].map(async () => {
    while (running) {
      await nc.request(SUBJECTS.check, payload, { timeout: 2000 }).catch(() => {});
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
  };
}

/**
 * Resolves once `done(events by pid)` holds for the decision events of `uri`, or rejects after
 * `timeoutMs` naming the workers that did not get there.
 */
function watch(nc, uri, pids, wanted, timeoutMs = 10_000) {
  const sub = nc.subscribe(SUBJECTS.decisions);
  const seen = new Map();
  const reached = (async () => {
    for await (const msg of sub) {
      const event = msg.json();
      if (event.uri !== uri || !wanted(event)) continue;
      const pid = pidOf(event.worker);
      if (!seen.has(pid)) seen.set(pid, performance.now());
      if (pids.every((p) => seen.has(p))) return seen;
    }
    throw new Error(`workers ${pids.filter((p) => !seen.has(p))} never showed ${uri} within ${timeoutMs} ms`);
  })();
  const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
  return reached.finally(() => {
    clearTimeout(timer);
    sub.unsubscribe();
  });
}

/** Revocation → refused on every worker, p50/p99 ms over `revocationIterations` tokens. */
export async function revocationScenario(b) {
  if (!b.opts.want('revocation_visible_ms')) return;
  const { nc, admin, workers } = b.cluster;
  const pids = workers.map((w) => w.pid);
  if (pids.length < 2) b.log('revocation_visible_ms: fewer than 2 workers; measured on what there is');
  const histogram = latencyHistogram();
  const samples = [];
  const windowStart = monotonicUs();
  for (let i = 0; i < b.opts.sizes.revocationIterations; i++) {
    const uri = `/fhir/Patient?revocation-probe=${i}`;
    const token = mintJwt('HS256', b.keys.hsSecret, claimsFor(ISS.hs, 'revocation', i));
    const stop = probe(nc, checkPayload(token, { method: 'GET', uri }));
    try {
      // Warm: every worker has verified (and so cached) the token before it is revoked.
      await watch(nc, uri, pids, (e) => e.status !== 401);
      const refused = watch(nc, uri, pids, (e) => e.status === 401);
      const startedAt = performance.now();
      await admin.revoke({ token });
      const seen = await refused;
      const ms = Math.max(...pids.map((p) => seen.get(p))) - startedAt;
      samples.push(ms);
      recordMs(histogram, ms);
    } finally {
      await stop();
    }
  }
  b.windows.revocation_visible_ms = [[windowStart, monotonicUs()]];
  b.revocation = {
    p50: histogram.getValueAtPercentile(50) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    samples,
  };
  histogram.destroy();
  b.log(`revocation_visible_ms: p50 ${b.revocation.p50} ms, p99 ${b.revocation.p99} ms`);
}
