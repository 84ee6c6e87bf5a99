// Issue 12: a proxied POST of a 16 KiB FHIR JSON body through the gateway (proxy mode: the whole
// body buffered, parsed strictly, shown to the policy, forwarded byte for byte) against the same
// POST to the bare node:http server that is also the gateway's upstream.
import { checkPayload } from './cluster.mjs';
import { observation } from './fhir-bodies.mjs';
import { httpLoad } from './http-load.mjs';
import { Measurement } from './measure.mjs';
import { freePort, startChild, startService } from './procs.mjs';
import { BENCH_USER } from './resources.mjs';
import { CLOSED_LOOP } from './throughput.mjs';

const BODY_BYTES = 16 * 1024;

/** Allows the bench user's Observation create for Patient/pt-1, reading the body to decide. */
const POST_POLICY = {
  resourceType: 'AccessPolicy',
  id: 'zz-bench-post',
  engine: 'matcho',
  matcho: {
    'request-method': 'post',
    params: { 'resource/type': 'Observation' },
    user: { id: BENCH_USER },
    body: { resourceType: 'Observation', subject: { reference: 'Patient/pt-1' } },
  },
};

/** http_bare_post_16k and gateway_proxy_post_16k, interleaved round by round. */
export async function proxyPostScenarios(b) {
  const names = ['http_bare_post_16k', 'gateway_proxy_post_16k'].filter((n) => b.opts.want(n));
  if (names.length === 0) return;
  const { slowRequests: httpRequests, slowWarmup: httpWarmup, rounds } = b.opts.sizes;
  const body = JSON.stringify(observation(BODY_BYTES));
  const bareSite = await freePort();
  const bare = await startChild('http-bare.mjs', [String(bareSite)], 'READY');
  const gatewayPort = await freePort();
  await b.cluster.admin.put(POST_POLICY);
  await b.cluster.waitForWorkers(await b.cluster.revisionOf(POST_POLICY), checkPayload(b.tokens.cached));
  const profile = b.opts.gatewayProfileDir;
  const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const gateway = await startService(
    'gateway',
    {
      ...b.cluster.env,
      // A closed loop never outruns the gateway: shedding would only count as failures here.
      ...CLOSED_LOOP,
      GATEWAY_PORT: String(gatewayPort),
      GATEWAY_GRPC_PORT: '0',
      UPSTREAM_URL: `http://127.0.0.1:${bareSite}`,
    },
    { nodeArgs },
  );
  const json = { 'content-type': 'application/fhir+json' };
  const targets = {
    http_bare_post_16k: { url: `http://127.0.0.1:${bareSite}/fhir/Observation`, headers: json },
    gateway_proxy_post_16k: {
      url: `http://127.0.0.1:${gatewayPort}/fhir/Observation`,
      headers: { ...json, authorization: `Bearer ${b.tokens.cached}` },
    },
  };
  try {
    const { url, headers } = targets.gateway_proxy_post_16k;
    const first = await fetch(url, { method: 'POST', headers, body });
    if (first.status !== 200)
      throw new Error(`gateway proxy POST answered ${first.status}: ${await first.text()}`);
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const { url: target, headers: heads } = targets[name];
        const amount = Math.ceil(httpRequests / rounds);
        const slice = await httpLoad({
          url: target,
          headers: heads,
          method: 'POST',
          body,
          connections: b.opts.concurrency,
          amount,
          warmup: httpWarmup,
        });
        b.measurements[name] ??= new Measurement(name);
        b.measurements[name].add(slice);
      }
    }
  } finally {
    await gateway.stop();
    await bare.stop();
    await b.cluster.kv.delete(`AccessPolicy.${POST_POLICY.id}`);
  }
  for (const name of names) {
    const r = b.measurements[name].result();
    b.log(
      `${name}: ${r.rps} rps, p50 ${r.p50_us} µs, p99 ${r.p99_us} µs${r.failures ? `, ${r.failures} FAILED: ${r.firstFailure}` : ''}`,
    );
  }
}
