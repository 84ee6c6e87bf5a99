// The measurements, one function per group of scenarios. Each takes the run context
// `b = {opts, cluster, tokens, scenarios, results, log}` and records into it.
import { createPrivateKey } from 'node:crypto';
import { checkPayload, expectAllowed, SUBJECTS } from './cluster.mjs';
import { putAll } from './config-api.mjs';
import { httpLoad } from './http-load.mjs';
import { monotonicUs, natsLoad } from './nats-load.mjs';
import { measurePropagation } from './observe.mjs';
import { freePort, rssMiB, sleep, startChild, startService } from './procs.mjs';
import { FLIP_URI, fillerPolicy, flipPolicy, ISS, PROBE, user } from './resources.mjs';
import { claimsFor, mintJwt, mintSeries, mintSeriesParallel } from './tokens.mjs';

const repeat = (payload, n) => new Array(n).fill(payload);

/** `--cpu-prof` arguments for worker processes when `--profile-worker` is given. */
export const workerNodeArgs = (opts) =>
  opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [];

/** Pre-mints every token the NATS scenarios send, before any load runs. */
export async function mintTokens(keys, sizes, want, log) {
  const started = performance.now();
  const cached = mintJwt('HS256', keys.hsSecret, claimsFor(ISS.hs, 'cached', 0));
  const n = sizes.warmup + sizes.requests;
  const hs = want('jwt_hs256_unique') ? mintSeries('HS256', keys.hsSecret, ISS.hs, 'hs', n) : [];
  const es = want('jwt_es256_unique')
    ? mintSeries('ES256', createPrivateKey(keys.esPrivatePem), ISS.es, 'es', n)
    : [];
  const rs = want('jwt_rs256_unique')
    ? await mintSeriesParallel('RS256', keys.rsPrivatePem, ISS.rs, 'rs', sizes.rsWarmup + sizes.rsRequests)
    : [];
  log(
    `minted ${1 + hs.length + es.length + rs.length} tokens in ${Math.round(performance.now() - started)} ms`,
  );
  return { cached, hs, es, rs };
}

async function natsScenario(b, name, subject, warmup, measured, validate = expectAllowed) {
  if (!b.opts.want(name)) return;
  const { window, ...r } = await natsLoad(b.cluster.nc, subject, {
    warmup,
    measured,
    concurrency: b.opts.concurrency,
    validate,
  });
  b.windows[name] = window;
  b.scenarios[name] = r;
  b.log(
    `${name}: ${r.rps} rps, p50 ${r.p50_us} µs, p99 ${r.p99_us} µs${r.failures ? `, ${r.failures} FAILED: ${r.firstFailure}` : ''}`,
  );
}

/** Each token kind once, so a misconfiguration stops the run before any number is taken. */
export async function smokeCheck(b) {
  const { nc, opaqueToken } = b.cluster;
  const samples = [
    ['cached HS256', b.tokens.cached],
    ['opaque', opaqueToken],
  ];
  for (const [series, label] of [
    ['hs', 'HS256'],
    ['rs', 'RS256'],
    ['es', 'ES256'],
  ]) {
    const list = b.tokens[series];
    // The last token of the series is never sent during the run.
    if (list.length > 0) samples.push([label, list.pop()]);
  }
  for (const [label, token] of samples) {
    const problem = expectAllowed(await nc.request(SUBJECTS.check, checkPayload(token), { timeout: 5000 }));
    if (problem)
      throw new Error(
        `${label} token is not allowed by the worker (${problem}); the benchmark would be meaningless`,
      );
  }
}

/** echo (the floor), the token scenarios and policies_1 (base configuration: one policy). */
export async function tokenScenarios(b) {
  const { nc, opaqueToken, workers } = b.cluster;
  const { warmup, requests, rsWarmup } = b.opts.sizes;
  const cached = checkPayload(b.tokens.cached);
  // Whole-run warm-up: JIT of the workers' and this client's hot paths before the first number.
  await natsLoad(nc, SUBJECTS.check, {
    measured: repeat(cached, 2 * warmup),
    concurrency: b.opts.concurrency,
  });
  if (b.opts.want('echo')) {
    // The floor answers with the bytes of a real worker reply, as many responders as workers.
    const reply = (await nc.request(SUBJECTS.check, cached, { timeout: 5000 })).data;
    const subject = 'authz.bench.echo';
    const args = [b.cluster.nats.url, subject, 'authz-bench-echo', Buffer.from(reply).toString('base64')];
    const echoes = await Promise.all(workers.map(() => startChild('echo.mjs', args, 'READY')));
    await natsScenario(b, 'echo', subject, repeat(cached, warmup), repeat(cached, requests));
    await Promise.all(echoes.map((e) => e.stop()));
  }
  await natsScenario(b, 'jwt_cached', SUBJECTS.check, repeat(cached, warmup), repeat(cached, requests));
  const unique = (list, w) => [
    list.slice(0, w).map((t) => checkPayload(t)),
    list.slice(w).map((t) => checkPayload(t)),
  ];
  for (const [name, list, w] of [
    ['jwt_hs256_unique', b.tokens.hs, warmup],
    ['jwt_rs256_unique', b.tokens.rs, rsWarmup],
    ['jwt_es256_unique', b.tokens.es, warmup],
  ]) {
    if (list.length === 0) continue;
    const [warm, measured] = unique(list, w);
    await natsScenario(b, name, SUBJECTS.check, warm, measured);
  }
  const opaque = checkPayload(opaqueToken);
  await natsScenario(b, 'opaque_cached', SUBJECTS.check, repeat(opaque, warmup), repeat(opaque, requests));
  await natsScenario(b, 'policies_1', SUBJECTS.check, repeat(cached, warmup), repeat(cached, requests));
}

/** http_bare vs gateway_forward, load from a separate autocannon process. */
export async function httpScenarios(b) {
  const want = b.opts.want;
  if (!want('http_bare') && !want('gateway_forward')) return;
  const { httpRequests: amount, httpWarmup: warmup } = b.opts.sizes;
  const load = { connections: b.opts.concurrency, amount, warmup };
  if (want('http_bare')) {
    const port = await freePort();
    const bare = await startChild('http-bare.mjs', [String(port)], 'READY');
    record(b, 'http_bare', await httpLoad({ ...load, url: `http://127.0.0.1:${port}/`, headers: {} }));
    await bare.stop();
  }
  if (want('gateway_forward')) {
    const port = await freePort();
    const nodeArgs = b.opts.gatewayProfileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${b.opts.gatewayProfileDir}`]
      : [];
    b.cluster.gateway = await startService(
      'gateway',
      { ...b.cluster.env, GATEWAY_PORT: String(port) },
      { nodeArgs },
    );
    const url = `http://127.0.0.1:${port}/_authz/forward`;
    const headers = {
      authorization: `Bearer ${b.tokens.cached}`,
      'x-original-method': PROBE.method,
      'x-original-uri': PROBE.uri,
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '203.0.113.9',
    };
    const first = await fetch(url, { headers });
    if (first.status !== 200)
      throw new Error(`gateway forward-auth answered ${first.status}: ${await first.text()}`);
    record(b, 'gateway_forward', await httpLoad({ ...load, url, headers }));
    await b.cluster.gateway.stop();
    b.cluster.gateway = undefined;
  }
}

function record(b, name, { window, ...r }) {
  b.windows[name] = window;
  b.scenarios[name] = r;
  b.log(
    `${name}: ${r.rps} rps, p50 ${r.p50_us} µs, p99 ${r.p99_us} µs${r.failures ? `, ${r.failures} FAILED: ${r.firstFailure}` : ''}`,
  );
}

/**
 * policies_100 and policies_10000: fillers (that never allow the probe) are added before the
 * allowing policy in id order; the first of each engine kind goes through the config API so the
 * service validates the shapes, the rest are written to KV directly.
 */
export async function policyScenarios(b) {
  const cached = checkPayload(b.tokens.cached);
  const { warmup, requests } = b.opts.sizes;
  let have = 0;
  for (const [name, total] of [
    ['policies_100', 100],
    ['policies_10000', b.opts.sizes.policies],
  ]) {
    // Config propagation, cold start and RSS are measured with the largest policy set in place.
    const later = ['config_propagation_ms', 'cold_start_ms', 'worker_rss_mib'].some(b.opts.want);
    const needed = b.opts.want(name) || (name === 'policies_10000' && later);
    if (!needed) continue;
    const started = performance.now();
    const fillers = Array.from({ length: total - 1 - have }, (_, k) => fillerPolicy(have + k));
    let revision = 0;
    for (const policy of fillers.splice(0, have === 0 ? 10 : 0)) {
      await b.cluster.admin.put(policy);
      revision = Math.max(revision, await b.cluster.revisionOf(policy));
    }
    revision = Math.max(revision, await putAll(b.cluster.kv, fillers));
    have = total - 1;
    await b.cluster.waitForWorkers(revision, cached);
    // The worker applies entries as they arrive and rebuilds the policy set just after; let the
    // last rebuild land before measuring (the warm-up absorbs lazy schema compilation).
    await sleep(300);
    b.log(`${total} policies loaded on every worker in ${Math.round(performance.now() - started)} ms`);
    if (b.opts.want(name))
      await natsScenario(b, name, SUBJECTS.check, repeat(cached, warmup), repeat(cached, requests));
  }
}

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
  b.windows.config_propagation_ms = [windowStart, monotonicUs()];
  b.log(`config_propagation_ms: p50 ${b.propagation.p50} ms, p99 ${b.propagation.p99} ms`);
}

/**
 * Cold start (spawn → `ready`) of a fresh worker with the policies and `users` Users in KV, then
 * its RSS after `rssTokens` distinct HS256 tokens (users `user-<i>`) went through it. The other
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
    b.windows.cold_start_ms = [spawned, monotonicUs()];
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
  const tokens = mintSeries('HS256', b.keys.hsSecret, ISS.hs, 'rss', rssTokens, (i) => `user-${i % users}`);
  const payloads = tokens.map((t) => checkPayload(t));
  const verified = (msg) => {
    const reply = msg.json();
    // user-<i> is not allowed by the policies (403); 403 still means the token was verified and cached.
    return reply.status === 403 || reply.status === 200
      ? undefined
      : `status ${reply.status}: ${reply.reason}`;
  };
  const { window, ...r } = await natsLoad(b.cluster.nc, SUBJECTS.check, {
    measured: payloads,
    concurrency: 64,
    validate: verified,
  });
  b.windows.worker_rss_mib = window;
  if (r.failures) throw new Error(`worker_rss_mib: ${r.failures} checks failed: ${r.firstFailure}`);
  await sleep(500);
  b.rssMiB = Math.round(rssMiB(worker.pid) * 10) / 10;
  b.log(
    `worker_rss_mib: ${b.rssMiB} after ${rssTokens} distinct tokens (${r.rps} rps, ${Math.round(performance.now() - started)} ms)`,
  );
}
