// The throughput scenarios. Each group runs in `rounds` interleaved rounds (see measure.mjs);
// every function takes the run context `b = {opts, cluster, tokens, keys, measurements, log}`.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { auditTrailHooks } from './audit.mjs';
import { checkPayload, expectAllowed, SUBJECTS } from './cluster.mjs';
import { putAll } from './config-api.mjs';
import { httpLoad } from './http-load.mjs';
import { Measurement, slice } from './measure.mjs';
import { natsLoad } from './nats-load.mjs';
import { cpuMicros, freePort, sleep, startChild, startService } from './procs.mjs';
import { ALLOW_POLICY, fillerId, fillerPolicy, ISS, PROBE, SMART_CLAIMS, SMART_PROBE } from './resources.mjs';
import { claimsFor, mintJwt, mintSeries, mintSeriesParallel } from './tokens.mjs';

const repeat = (payload, n) => new Array(n).fill(payload);

/**
 * Closed-loop scenarios measure the most a gateway can do, so its load shedding is off there; the
 * open-loop curves (latency.mjs) run it as shipped, shedding past capacity.
 */
export const CLOSED_LOOP = { GATEWAY_SHED_LAG_MS: '0', GATEWAY_SHED_BUSY_PERCENT: '0' };

/**
 * After thousands of policies changed, a worker has applied the last revision but may still be
 * rebuilding its policy set (deferred to the next tick) and collecting the old one: let that
 * finish before measuring, so one size is not charged for the previous one's garbage.
 */
const SETTLE_MS = 1000;

/** Pre-mints every token the NATS scenarios send, before any load runs. */
export async function mintTokens(keys, sizes, want, log) {
  const started = performance.now();
  const cached = mintJwt('HS256', keys.hsSecret, claimsFor(ISS.hs, 'cached', 0));
  const smart = mintJwt('HS256', keys.hsSecret, { ...claimsFor(ISS.hs, 'smart', 0), ...SMART_CLAIMS });
  const n = sizes.warmup + sizes.requests;
  const hs = want('jwt_hs256_unique') ? mintSeries('HS256', keys.hsSecret, ISS.hs, 'hs', n) : [];
  const esKey = createPrivateKey(keys.esPrivatePem);
  const es = want('jwt_es256_unique') ? mintSeries('ES256', esKey, ISS.es, 'es', n) : [];
  const rsCount = sizes.rsWarmup + sizes.rsRequests;
  const rs = want('jwt_rs256_unique')
    ? await mintSeriesParallel('RS256', keys.rsPrivatePem, ISS.rs, 'rs', rsCount)
    : [];
  const total = 1 + hs.length + es.length + rs.length;
  log(`minted ${total} tokens in ${Math.round(performance.now() - started)} ms`);
  return { cached, smart, hs, es, rs };
}

/** Each token kind once, so a misconfiguration stops the run before any number is taken. */
export async function smokeCheck(b) {
  const samples = [
    ['cached HS256', b.tokens.cached],
    ['opaque', b.cluster.opaqueToken],
  ];
  for (const [series, label] of [
    ['hs', 'HS256'],
    ['rs', 'RS256'],
    ['es', 'ES256'],
  ]) {
    // The last token of a series is then never sent again.
    if (b.tokens[series].length > 0) samples.push([label, b.tokens[series].pop()]);
  }
  const payloads = samples.map(([label, token]) => [label, checkPayload(token)]);
  payloads.push(['SMART-scoped', checkPayload(b.tokens.smart, SMART_PROBE)]);
  for (const [label, payload] of payloads) {
    const reply = await b.cluster.nc.request(SUBJECTS.check, payload, { timeout: 5000 });
    const problem = expectAllowed(reply);
    if (problem)
      throw new Error(`${label} token is not allowed (${problem}); the benchmark would be meaningless`);
  }
}

function measurementOf(b, name) {
  b.measurements[name] ??= new Measurement(name);
  return b.measurements[name];
}

/**
 * One slice of NATS load. `responders` are the pids answering (workers, or the echo floor's);
 * their CPU, nats-server's and this client's are charged to the scenario, so the table can say
 * where the time per request goes. Warm-up is inside the window: it is small next to the slice.
 */
async function natsSlice(
  b,
  name,
  subject,
  warmup,
  measured,
  responders,
  validate = expectAllowed,
  extra = {},
) {
  const into = measurementOf(b, name);
  const roles = { client: [process.pid], 'nats-server': [b.cluster.nats.proc.pid], responders, ...extra };
  const before = cpuOf(roles);
  await natsLoad(b.cluster.nc, subject, {
    warmup,
    measured,
    concurrency: b.opts.concurrency,
    validate,
    into,
  });
  const after = cpuOf(roles);
  for (const [i, role] of Object.keys(roles).entries()) into.addCpu(role, after[i] - before[i]);
}

/** CPU µs used so far by each role's processes, in the order of `Object.keys(roles)`. */
function cpuOf(roles) {
  return Object.values(roles).map((pids) => pids.reduce((sum, pid) => sum + cpuMicros(pid), 0));
}

/** echo (the floor) and the token scenarios, interleaved round by round. */
export async function tokenScenarios(b) {
  const { nc, workers } = b.cluster;
  const { warmup, requests, rsWarmup, rounds } = b.opts.sizes;
  const cached = checkPayload(b.tokens.cached);
  // Whole-run warm-up: JIT of the workers' and this client's hot paths before the first number.
  await natsLoad(nc, SUBJECTS.check, {
    measured: repeat(cached, 10_000),
    concurrency: b.opts.concurrency,
  });
  const echoSubject = 'authz.bench.echo';
  let echoes = [];
  if (b.opts.want('echo')) {
    // The floor answers with the bytes of a real worker reply, as many responders as workers.
    const reply = (await nc.request(SUBJECTS.check, cached, { timeout: 5000 })).data;
    const args = [b.cluster.nats.url, echoSubject, 'authz-bench-echo', Buffer.from(reply).toString('base64')];
    echoes = await Promise.all(workers.map(() => startChild('echo.mjs', args, 'READY')));
  }
  const encode = (tokens) => tokens.map((t) => checkPayload(t));
  const opaque = checkPayload(b.cluster.opaqueToken);
  const smart = checkPayload(b.tokens.smart, SMART_PROBE);
  const plan = [
    ['echo', echoSubject, repeat(cached, warmup), repeat(cached, requests)],
    ['jwt_cached', SUBJECTS.check, repeat(cached, warmup), repeat(cached, requests)],
    ['jwt_cached_audit', SUBJECTS.check, repeat(cached, warmup), repeat(cached, requests)],
    [
      'jwt_hs256_unique',
      SUBJECTS.check,
      encode(b.tokens.hs.slice(0, warmup)),
      encode(b.tokens.hs.slice(warmup)),
    ],
    [
      'jwt_rs256_unique',
      SUBJECTS.check,
      encode(b.tokens.rs.slice(0, rsWarmup)),
      encode(b.tokens.rs.slice(rsWarmup)),
    ],
    [
      'jwt_es256_unique',
      SUBJECTS.check,
      encode(b.tokens.es.slice(0, warmup)),
      encode(b.tokens.es.slice(warmup)),
    ],
    ['opaque_cached', SUBJECTS.check, repeat(opaque, warmup), repeat(opaque, requests)],
    ['smart_scoped', SUBJECTS.check, repeat(smart, warmup), repeat(smart, requests)],
  ].filter(([name, , , measured]) => b.opts.want(name) && measured.length > 0);
  const audit = plan.some(([name]) => name === 'jwt_cached_audit')
    ? await auditTrailHooks(b.cluster)
    : undefined;
  const stored = { messages: 0, bytes: 0, disk: 0 };
  for (let round = 0; round < rounds; round++) {
    for (const [name, subject, warm, measured] of plan) {
      const responders = (name === 'echo' ? echoes : workers).map((p) => p.pid);
      const part = slice(measured, round, rounds);
      if (name === 'jwt_cached_audit') await audit.before();
      // The audit slices also charge the config service that keeps the trail.
      const extra = name === 'jwt_cached_audit' ? { 'audit-config': audit.pids() } : {};
      await natsSlice(b, name, subject, round === 0 ? warm : [], part, responders, expectAllowed, extra);
      if (name !== 'jwt_cached_audit') continue;
      // The stream must have recorded what was measured, or the number means nothing.
      const recorded = await audit.after();
      if (recorded.messages < part.length)
        throw new Error(`the audit stream recorded ${recorded.messages} of ${part.length} decisions`);
      stored.messages += recorded.messages;
      stored.bytes += recorded.bytes;
      stored.disk += recorded.disk;
    }
  }
  await Promise.all(echoes.map((e) => e.stop()));
  if (stored.messages > 0) {
    // What the trail costs on disk, measured on the events just stored (README "Audit").
    const perEvent = stored.disk / stored.messages;
    Object.assign(measurementOf(b, 'jwt_cached_audit').extra, {
      audit_events_stored: stored.messages,
      audit_stream_bytes_per_event: Math.round(stored.bytes / stored.messages),
      audit_disk_bytes_per_event: Math.round(perEvent),
      audit_disk_gb_per_million: Math.round((perEvent * 1e6) / 1e7) / 100,
    });
  }
  for (const [name] of plan) logResult(b, name);
}

/**
 * http_bare vs gateway_forward, load from a separate autocannon process, alternating by round.
 * Every round's load process is new, so each warms itself (and its connections) up first.
 */
export async function httpScenarios(b) {
  const want = b.opts.want;
  if (!want('http_bare') && !want('gateway_forward') && !want('gateway_forward_assertion')) return;
  const { httpRequests, httpWarmup, rounds } = b.opts.sizes;
  const targets = [];
  // What nginx sends the forward-auth endpoint for the probe request.
  const headers = {
    authorization: `Bearer ${b.tokens.cached}`,
    'x-original-method': PROBE.method,
    'x-original-uri': PROBE.uri,
    'x-forwarded-proto': 'https',
    'x-forwarded-for': '203.0.113.9',
  };
  let bare;
  if (want('http_bare')) {
    const port = await freePort();
    bare = await startChild('http-bare.mjs', [String(port)], 'READY');
    targets.push(['http_bare', `http://127.0.0.1:${port}/`, {}, bare.pid]);
  }
  if (want('gateway_forward')) {
    const port = await freePort();
    const profile = b.opts.gatewayProfileDir;
    const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
    const env = { ...b.cluster.env, GATEWAY_PORT: String(port), GATEWAY_GRPC_PORT: '0', ...CLOSED_LOOP };
    b.cluster.gateway = await startService('gateway', env, { nodeArgs });
    const url = `http://127.0.0.1:${port}/_authz/forward`;
    const first = await fetch(url, { headers });
    if (first.status !== 200)
      throw new Error(`gateway forward-auth answered ${first.status}: ${await first.text()}`);
    targets.push(['gateway_forward', url, headers, b.cluster.gateway.pid]);
  }
  let signing;
  if (want('gateway_forward_assertion')) {
    // The same forward-auth, with every allow signing an ES256 X-Authz-Assertion.
    const port = await freePort();
    const keyFile = join(mkdtempSync(join(tmpdir(), 'authz-bench-key-')), 'assertion.pem');
    writeFileSync(
      keyFile,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const env = {
      ...b.cluster.env,
      GATEWAY_PORT: String(port),
      GATEWAY_GRPC_PORT: '0',
      ...CLOSED_LOOP,
      GATEWAY_ASSERTION_KEY_FILE: keyFile,
    };
    try {
      signing = await startService('gateway', env);
    } finally {
      // The gateway reads the key once at start; no private key is left behind in /tmp.
      rmSync(dirname(keyFile), { recursive: true, force: true });
    }
    const url = `http://127.0.0.1:${port}/_authz/forward`;
    const first = await fetch(url, { headers });
    if (first.status !== 200 || !first.headers.get('x-authz-assertion'))
      throw new Error(`signing gateway answered ${first.status} without an assertion: ${await first.text()}`);
    targets.push(['gateway_forward_assertion', url, headers, signing.pid]);
  }
  for (let round = 0; round < rounds; round++) {
    for (const [name, url, headers, server] of targets) {
      const amount = Math.ceil(httpRequests / rounds);
      // The server's CPU (and, behind a gateway, nats-server's and the workers'), charged per
      // request: each load process warms up first, so the slice's CPU is shared pro rata.
      const roles = { server: [server] };
      if (name !== 'http_bare') {
        roles['nats-server'] = [b.cluster.nats.proc.pid];
        roles.responders = b.cluster.workers.map((w) => w.pid);
      }
      const before = cpuOf(roles);
      const slice = await httpLoad({
        url,
        headers,
        connections: b.opts.concurrency,
        amount,
        warmup: httpWarmup,
      });
      const after = cpuOf(roles);
      const into = measurementOf(b, name);
      into.add(slice);
      const measuredShare = amount / (amount + httpWarmup);
      for (const [i, role] of Object.keys(roles).entries())
        into.addCpu(role, (after[i] - before[i]) * measuredShare);
    }
  }
  await bare?.stop();
  await signing?.stop();
  await b.cluster.gateway?.stop();
  b.cluster.gateway = undefined;
  for (const [name] of targets) logResult(b, name);
}

/**
 * policies_1, policies_100, policies_10000. Fillers (which never allow the probe) are added before
 * the allowing policy in id order; each round measures the three sizes, then deletes the fillers
 * again. The first ten fillers (every shape) go through the config API, so the service validates
 * them; the rest are written to KV directly. Leaves the largest set loaded when done, because
 * config propagation, cold start and RSS are measured with it.
 */
export async function policyScenarios(b) {
  const want = b.opts.want;
  const sizes = [
    ['policies_1', 1],
    ['policies_100', 100],
    ['policies_10000', b.opts.sizes.policies],
  ];
  const measuring = sizes.some(([name]) => want(name));
  const later = ['config_propagation_ms', 'cold_start_ms', 'worker_rss_mib'].some(want);
  if (!measuring && !later) return;
  const cached = checkPayload(b.tokens.cached);
  const { requests, rounds } = b.opts.sizes;
  const warmup = Math.max(500, Math.round(b.opts.sizes.warmup / 5));
  const steps = measuring ? rounds : 1;
  let loaded = 0; // fillers in KV
  for (let round = 0; round < steps; round++) {
    if (loaded > 0) loaded = await deleteFillers(b, loaded, cached);
    for (const [name, total] of sizes) {
      if (!want(name) && !(later && round === steps - 1 && total === b.opts.sizes.policies)) continue;
      if (total - 1 > loaded) loaded = await loadFillers(b, loaded, total - 1, cached, round === 0);
      if (want(name))
        await natsSlice(
          b,
          name,
          SUBJECTS.check,
          repeat(cached, warmup),
          repeat(cached, Math.ceil(requests / rounds)),
          b.cluster.workers.map((w) => w.pid),
        );
    }
  }
  for (const [name] of sizes) if (want(name)) logResult(b, name);
}

async function loadFillers(b, from, to, probe, log) {
  const started = performance.now();
  const fillers = Array.from({ length: to - from }, (_, k) => fillerPolicy(from + k));
  let revision = 0;
  for (const policy of fillers.splice(0, from === 0 ? 10 : 0)) {
    await b.cluster.admin.put(policy);
    revision = Math.max(revision, await b.cluster.revisionOf(policy));
  }
  revision = Math.max(revision, await putAll(b.cluster.kv, fillers));
  await b.cluster.waitForWorkers(revision, probe);
  await sleep(SETTLE_MS);
  if (log)
    b.log(`${to + 1} policies loaded on every worker in ${Math.round(performance.now() - started)} ms`);
  return to;
}

async function deleteFillers(b, count, probe) {
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < count; i = next++) await b.cluster.kv.delete(`AccessPolicy.${fillerId(i)}`);
  };
  await Promise.all(Array.from({ length: 256 }, lane));
  // Rewriting the allowing policy yields a revision past every delete to wait for.
  await b.cluster.waitForWorkers(await putAll(b.cluster.kv, [ALLOW_POLICY]), probe);
  await sleep(SETTLE_MS);
  return 0;
}

function logResult(b, name) {
  const r = b.measurements[name].result();
  const failed = r.failures ? `, ${r.failures} FAILED: ${r.firstFailure}` : '';
  const cpu = r.cpu_us_per_request
    ? `; CPU µs/request ${Object.entries(r.cpu_us_per_request)
        .map(([role, us]) => `${role} ${us}`)
        .join(', ')}`
    : '';
  const disk = r.audit_disk_gb_per_million
    ? `; stream ${r.audit_stream_bytes_per_event} B/event, disk ${r.audit_disk_bytes_per_event} B/event = ${r.audit_disk_gb_per_million} GB per million decisions`
    : '';
  b.log(`${name}: ${r.rps} rps, p50 ${r.p50_us} µs, p99 ${r.p99_us} µs${failed}${cpu}${disk}`);
}
