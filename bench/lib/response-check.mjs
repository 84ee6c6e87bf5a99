// proxied_read and proxied_read_checked (issue 15, DESIGN §13): the gateway in proxy mode reading
// a 4 KiB Observation from a bare FHIR upstream. `proxied_read_checked` uses a token with
// `patient/Observation.rs` and a patient in context, so the worker allows the read on condition
// and the gateway buffers, parses and checks the response for compartment membership before the
// client sees it; `proxied_read` is the same read by a token whose `user/Observation.rs` covers
// it without a response check. Same gateway, upstream and load, interleaved round by round.
import { checkPayload, expectAllowed, SUBJECTS } from './cluster.mjs';
import { httpLoad } from './http-load.mjs';
import { Measurement } from './measure.mjs';
import { freePort, startChild, startService } from './procs.mjs';
import { BENCH_USER, ISS } from './resources.mjs';
import { CLOSED_LOOP } from './throughput.mjs';
import { claimsFor, mintJwt } from './tokens.mjs';

const READ = { method: 'GET', uri: '/fhir/Observation/o-1' };
const SCOPES = 'openid fhirUser launch/patient patient/Patient.rs';
/** Admits the read once the scope step passed (scopes never grant by themselves). */
const POLICY = {
  resourceType: 'AccessPolicy',
  id: 'zz-allow-observation-read',
  engine: 'matcho',
  matcho: { 'request-method': 'get', params: { 'resource/type': 'Observation' }, user: { id: BENCH_USER } },
};

function token(b, series, scope) {
  const claims = { ...claimsFor(ISS.hs, series, 0), atv: 2, context: { patient: 'pt-1' }, scope };
  return mintJwt('HS256', b.keys.hsSecret, claims);
}

/** The scenario measures what it claims: a checked read passes, another patient's is refused. */
async function smoke(base, checked, unchecked) {
  const get = (path, t) =>
    fetch(`${base}${path}`, { headers: { authorization: `Bearer ${t}`, accept: 'application/fhir+json' } });
  const own = await get(READ.uri, checked);
  if (own.status !== 200 || (await own.arrayBuffer()).byteLength !== 4096)
    throw new Error(`proxied_read_checked: the 4 KiB read answered ${own.status}`);
  const other = await get('/fhir/Observation/of-pt-2', checked);
  if (other.status !== 403)
    throw new Error(`proxied_read_checked: another patient's Observation answered ${other.status}, not 403`);
  await other.arrayBuffer();
  const plain = await get('/fhir/Observation/of-pt-2', unchecked);
  if (plain.status !== 200) throw new Error(`proxied_read: the unchecked read answered ${plain.status}`);
  await plain.arrayBuffer();
}

/** proxied_read (floor) and proxied_read_checked, when wanted. */
export async function responseCheckScenarios(b) {
  const want = b.opts.want;
  if (!want('proxied_read') && !want('proxied_read_checked')) return;
  const { slowRequests: httpRequests, slowWarmup: httpWarmup, rounds } = b.opts.sizes;
  const checked = token(b, 'checked-read', `${SCOPES} patient/Observation.rs`);
  const unchecked = token(b, 'unchecked-read', `${SCOPES} user/Observation.rs`);
  await b.cluster.admin.put(POLICY);
  await b.cluster.waitForWorkers(await b.cluster.revisionOf(POLICY), checkPayload(unchecked, READ));
  // As the proxying gateway asks: it can check a response before the client sees it.
  const probe = {
    ...JSON.parse(new TextDecoder().decode(checkPayload(checked, READ))),
    can_check_response: true,
  };
  const reply = await b.cluster.nc.request(SUBJECTS.check, JSON.stringify(probe), { timeout: 5000 });
  if (expectAllowed(reply) || !reply.json().response_check)
    throw new Error(`proxied_read_checked: the worker did not allow on a response check: ${reply.string()}`);
  const upstreamPort = await freePort();
  const upstream = await startChild('fhir-read.mjs', [String(upstreamPort)], 'READY');
  const port = await freePort();
  const profile = b.opts.gatewayProfileDir;
  const gateway = await startService(
    'gateway',
    {
      ...b.cluster.env,
      GATEWAY_PORT: String(port),
      GATEWAY_GRPC_PORT: '0',
      UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
      ...CLOSED_LOOP,
    },
    { nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [] },
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    await smoke(base, checked, unchecked);
    const targets = [
      ['proxied_read', unchecked],
      ['proxied_read_checked', checked],
    ].filter(([name]) => want(name));
    for (let round = 0; round < rounds; round++) {
      for (const [name, t] of targets) {
        const slice = await httpLoad({
          url: `${base}${READ.uri}`,
          headers: { authorization: `Bearer ${t}`, accept: 'application/fhir+json' },
          connections: b.opts.concurrency,
          amount: Math.ceil(httpRequests / rounds),
          warmup: httpWarmup,
        });
        b.measurements[name] ??= new Measurement(name);
        b.measurements[name].add(slice);
      }
    }
    for (const [name] of targets) {
      const r = b.measurements[name].result();
      const failed = r.failures ? `, ${r.failures} FAILED: ${r.firstFailure}` : '';
      b.log(`${name}: ${r.rps} rps, p50 ${r.p50_us} µs, p99 ${r.p99_us} µs${failed}`);
    }
  } finally {
    await gateway.stop();
    await upstream.stop();
    await b.cluster.kv.delete(`${POLICY.resourceType}.${POLICY.id}`);
  }
}
