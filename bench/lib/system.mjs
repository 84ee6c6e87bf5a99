// The system-level measurements: config propagation, cold start, memory. Each takes the run
// context `b` (see throughput.mjs) and records into it.
import { checkPayload, SUBJECTS } from './cluster.mjs';
import { putAll } from './config-api.mjs';
import { monotonicUs, natsLoad } from './nats-load.mjs';
import { measurePropagation } from './observe.mjs';
import { rssMiB, sleep, startService } from './procs.mjs';
import { FLIP_URI, flipPolicy, ISS, user } from './resources.mjs';
import { mintSeries } from './tokens.mjs';

/** `--cpu-prof` arguments for worker processes when `--profile-worker` is given. */
export const workerNodeArgs = (opts) => [
  // As the local runner and compose run workers (README "Sizing workers").
  '--max-old-space-size=192',
  ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []),
];

/** Config change → visible on every worker, measured through the decision events. */
export async function propagationScenario(b) {
  if (!b.opts.want('config_propagation_ms')) return;
  const { workers } = b.cluster;
  if (workers.length < 2) b.log('config_propagation_ms: fewer than 2 workers; measured on what there is');
  const windowStart = monotonicUs();
  b.propagation = await measurePropagation({
    nc: b.cluster.nc,
    subjects: SUBJECTS,
    pids: workers.map((w) => w.pid),
    admin: b.cluster.admin,
    policy: flipPolicy,
    probePayload: checkPayload(b.tokens.cached, { method: 'GET', uri: FLIP_URI }),
    flipUri: FLIP_URI,
    iterations: b.opts.sizes.propagationIterations,
  });
  b.windows.config_propagation_ms = [[windowStart, monotonicUs()]];
  b.log(`config_propagation_ms: p50 ${b.propagation.p50} ms, p99 ${b.propagation.p99} ms`);
}

/**
 * Cold start (spawn → `ready`) of a fresh worker with the policies and `users` Users in KV, then
 * its RSS after `rssTokens` distinct HS256 tokens (users `user-<i>`, i < 10 000) went through it. The other
 * workers are stopped first so every check lands on the measured one.
 */
export async function coldStartAndMemory(b) {
  const want = b.opts.want;
  if (!want('cold_start_ms') && !want('worker_rss_mib')) return;
  const { users, coldStarts, rssTokens } = b.opts.sizes;
  await Promise.all(b.cluster.workers.map((w) => w.stop('SIGTERM', 8000)));
  b.cluster.workers = [];
  let started = performance.now();
  const list = Array.from({ length: users }, (_, i) => user(`user-${i}`));
  await putAll(b.cluster.kv, list, 1024);
  b.log(`${users} Users written to KV in ${Math.round(performance.now() - started)} ms`);

  const times = [];
  let worker;
  for (let k = 0; k < coldStarts; k++) {
    if (worker) await worker.stop('SIGTERM', 8000);
    const spawned = monotonicUs();
    worker = await startService('worker', b.cluster.env, { nodeArgs: workerNodeArgs(b.opts) });
    b.windows.cold_start_ms = [[spawned, monotonicUs()]];
    times.push(worker.readyAt - worker.spawnedAt);
  }
  b.cluster.workers = [worker];
  times.sort((x, y) => x - y);
  b.coldStartMs = Math.round(times[Math.floor(times.length / 2)]);
  const readyRss = Math.round(rssMiB(worker.pid));
  b.log(
    `cold_start_ms: ${b.coldStartMs} (runs: ${times.map(Math.round).join(', ')}); RSS when ready ${readyRss} MiB`,
  );
  if (!want('worker_rss_mib')) return;

  started = performance.now();
  // Each token names one of the first 10 000 Users (the worker's user cache, WORKER_MAX_CACHED_USERS),
  // so the run ends with both caches full — the steady state — without 100 000 KV reads.
  const cachedUsers = Math.min(users, 10_000);
  const tokens = mintSeries(
    'HS256',
    b.keys.hsSecret,
    ISS.hs,
    'rss',
    rssTokens,
    (i) => `user-${i % cachedUsers}`,
  );
  const payloads = tokens.map((t) => checkPayload(t));
  const verified = (msg) => {
    const reply = msg.json();
    // user-<i> is not allowed by the policies (403); 403 still means the token was verified and cached.
    return reply.status === 403 || reply.status === 200
      ? undefined
      : `status ${reply.status}: ${reply.reason}`;
  };
  const r = await natsLoad(b.cluster.nc, SUBJECTS.check, {
    measured: payloads,
    concurrency: 64,
    validate: verified,
  });
  b.windows.worker_rss_mib = [r.window];
  if (r.failures) throw new Error(`worker_rss_mib: ${r.failures} checks failed: ${r.firstFailure}`);
  await sleep(500);
  b.rssMiB = Math.round(rssMiB(worker.pid) * 10) / 10;
  b.log(
    `worker_rss_mib: ${b.rssMiB} after ${rssTokens} distinct tokens (${Math.round((r.count / r.elapsedMs) * 1000)} rps, ${Math.round(performance.now() - started)} ms)`,
  );
}
