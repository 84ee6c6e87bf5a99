// Latency as users feel it (issue 19): open-loop curves of each path next to its floor, at fixed
// fractions of the floor's closed-loop capacity measured in the same run. Takes the run context
// `b` (see throughput.mjs) and records `b.curves`.
import { AuthzClient } from '../../packages/client/dist/index.js';
import { checkPayload, SUBJECTS } from './cluster.mjs';
import { grpcCurves } from './grpc-curves.mjs';
import { httpLoad } from './http-load.mjs';
import { LOAD_FRACTIONS } from './load-fractions.mjs';
import { natsLoad } from './nats-load.mjs';
import { openLoop } from './open-loop.mjs';
import { freePort, root, spawnOwned, startChild, startService } from './procs.mjs';
import { PROBE } from './resources.mjs';

export { LOAD_FRACTIONS };

/**
 * One group of curves: a floor and the path measured against it, one point per fraction.
 * @typedef {{ floor: string, path: string, capacity_rps: number, path_capacity_rps?: number,
 *   points: { fraction: number, past_own_capacity?: boolean, floor: object, path: object }[] }} CurveGroup
 */

/** Every latency curve group the run can draw. */
export async function latencyScenario(b) {
  if (!b.opts.want('latency')) return;
  b.curves = {};
  b.curves.nats = await natsCurves(b);
  b.curves.http = await httpCurves(b);
  b.curves.grpc = await grpcCurves(b);
  for (const group of Object.values(b.curves)) logCurves(b, group);
}

/**
 * echo vs jwt_cached through NATS, sent by the gateway SDK (`AuthzClient`, the in-flight bound a
 * gateway has included) from this process. The echo answers on its own subject prefix.
 */
async function natsCurves(b) {
  const { nc, workers } = b.cluster;
  const payload = checkPayload(b.tokens.cached);
  const request = JSON.parse(new TextDecoder().decode(payload));
  const echoPrefix = 'authzecho';
  const echoSubject = `${echoPrefix}.v1.check`;
  const reply = (await nc.request(SUBJECTS.check, payload, { timeout: 5000 })).data;
  const args = [b.cluster.nats.url, echoSubject, 'authz-bench-echo', Buffer.from(reply).toString('base64')];
  const echoes = await Promise.all(workers.map(() => startChild('echo.mjs', args, 'READY')));
  try {
    const capacity = b.measurements.echo?.result().rps ?? (await natsCapacity(b, echoSubject, payload));
    const clients = {
      [echoSubject]: new AuthzClient(nc, { subjectPrefix: echoPrefix }),
      [SUBJECTS.check]: new AuthzClient(nc),
    };
    const send = (subject) => async () => {
      const r = await clients[subject].check(request);
      if (r.allow === true) return 'ok';
      return r.status === 503 ? 'shed' : `status ${r.status}: ${r.reason}`;
    };
    const { latencyMs, latencyWarmupMs } = b.opts.sizes;
    // JIT of the generator's send path and the workers' check path at the lowest rate.
    for (const subject of [echoSubject, SUBJECTS.check])
      await openLoop({
        send: send(subject),
        rate: capacity * LOAD_FRACTIONS[0],
        durationMs: latencyWarmupMs,
      });
    const points = [];
    for (const fraction of LOAD_FRACTIONS) {
      const rate = capacity * fraction;
      const floor = await openLoop({ send: send(echoSubject), rate, durationMs: latencyMs });
      const path = await openLoop({ send: send(SUBJECTS.check), rate, durationMs: latencyMs });
      points.push({ fraction, floor, path });
    }
    for (const client of Object.values(clients)) client.close();
    return { floor: 'echo', path: 'jwt_cached', capacity_rps: capacity, points };
  } finally {
    await Promise.all(echoes.map((e) => e.stop()));
  }
}

async function natsCapacity(b, subject, payload) {
  const slice = await natsLoad(b.cluster.nc, subject, {
    warmup: new Array(2000).fill(payload),
    measured: new Array(20_000).fill(payload),
    concurrency: b.opts.concurrency,
  });
  return Math.round((slice.count / slice.elapsedMs) * 1000);
}

/**
 * A bare node:http server vs the gateway in proxy mode in front of that same server, each driven
 * by an open-loop generator in its own process.
 */
async function httpCurves(b) {
  const barePort = await freePort();
  const bare = await startChild('http-bare.mjs', [String(barePort)], 'READY');
  const gatewayPort = await freePort();
  const gateway = await startService('gateway', {
    ...b.cluster.env,
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_GRPC_PORT: '0',
    UPSTREAM_URL: `http://127.0.0.1:${barePort}`,
  });
  try {
    const headers = { authorization: `Bearer ${b.tokens.cached}`, accept: 'application/fhir+json' };
    const bareUrl = `http://127.0.0.1:${barePort}${PROBE.uri}`;
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}${PROBE.uri}`;
    const first = await fetch(gatewayUrl, { headers });
    if (first.status !== 200)
      throw new Error(`gateway proxy answered ${first.status}: ${await first.text()}`);
    const capacity = b.measurements.http_bare?.result().rps ?? (await httpCapacity(b, bareUrl, headers));
    // The proxy's own capacity is a fraction of the bare server's here (it makes two HTTP hops and
    // a check on the same two cores), so the floor's fractions overload it from the first point on.
    // One more point at 110 % of its own closed-loop capacity shows how it degrades past *that*.
    const own = await httpCapacity(b, gatewayUrl, headers, 5_000);
    const ownFraction = Math.round(((1.1 * own) / capacity) * 1000) / 1000;
    const fractions = [...new Set([...LOAD_FRACTIONS, ownFraction])].sort((x, y) => x - y);
    const rates = fractions.map((f) => capacity * f);
    const run = (url) => openHttp({ url, headers, rates, b });
    // Floor and path alternate by whole curve: each child process warms itself up first.
    const floor = await run(bareUrl);
    const path = await run(gatewayUrl);
    const points = fractions.map((fraction, i) => ({
      fraction,
      ...(fraction === ownFraction ? { past_own_capacity: true } : {}),
      floor: floor[i],
      path: path[i],
    }));
    return {
      floor: 'http_bare',
      path: 'gateway_proxy',
      capacity_rps: capacity,
      path_capacity_rps: own,
      points,
    };
  } finally {
    await gateway.stop();
    await bare.stop();
  }
}

async function httpCapacity(b, url, headers, amount = 20_000) {
  const r = await httpLoad({ url, headers, connections: b.opts.concurrency, amount, warmup: amount / 10 });
  return Math.round((r.count / r.elapsedMs) * 1000);
}

async function openHttp({ url, headers, rates, b }) {
  const { latencyMs, latencyWarmupMs } = b.opts.sizes;
  const options = {
    url,
    headers,
    connections: 256,
    rates,
    durationMs: latencyMs,
    warmupMs: latencyWarmupMs,
  };
  const proc = spawnOwned(
    'open-http',
    process.execPath,
    [`${root}bench/child/open-http.mjs`, JSON.stringify(options)],
    {
      inheritEnv: true,
    },
  );
  const code = await proc.exited;
  const line = proc.lines.find((l) => l.startsWith('RESULT '));
  if (code !== 0 || !line)
    throw new Error(`open-loop http load failed (exit ${code}): ${proc.stderr.slice(-2000)}`);
  return JSON.parse(line.slice('RESULT '.length));
}

/** One log line per point: offered load, p50/p99/p99.9 of floor and path, what was shed. */
function logCurves(b, group) {
  for (const { fraction, floor, path, past_own_capacity: own } of group.points) {
    const fmt = (r) =>
      `p50 ${r.p50_us} p99 ${r.p99_us} p99.9 ${r.p999_us} µs${r.shed ? `, ${r.shed} shed (p99 ${r.shed_p99_us} µs)` : ''}${r.failed + r.timed_out ? `, ${r.failed} failed, ${r.timed_out} timed out` : ''}`;
    b.log(
      `latency ${group.path} at ${Math.round(fraction * 100)}% of ${group.floor} (${Math.round(group.capacity_rps * fraction)} rps${own ? `, 110% of ${group.path}'s own ${group.path_capacity_rps} rps` : ''}): ${group.floor} ${fmt(floor)}; ${group.path} ${fmt(path)}`,
    );
  }
}
