// Issue 14: a transaction Bundle of 50 and of 200 entries through the check path (DESIGN §12):
// the envelope allowed as FhirTransaction, every entry decided as its own request (FhirCreate of
// an Observation, a matcho policy reading the entry's resource), the token verified once.
// Target: < 20 ms per 200-entry bundle. Sent over NATS as a check request, like a gateway does.
import { checkPayload, SUBJECTS } from './cluster.mjs';
import { transactionBundle } from './fhir-bodies.mjs';
import { Measurement } from './measure.mjs';
import { natsLoad } from './nats-load.mjs';
import { BENCH_USER } from './resources.mjs';

const POLICIES = [
  {
    resourceType: 'AccessPolicy',
    id: 'zz-bench-transaction',
    engine: 'matcho',
    link: [{ reference: 'Operation/FhirTransaction' }],
    matcho: { user: { id: BENCH_USER } },
  },
  {
    resourceType: 'AccessPolicy',
    id: 'zz-bench-create',
    engine: 'matcho',
    link: [{ reference: 'Operation/FhirCreate' }],
    matcho: {
      user: { id: BENCH_USER },
      resource: { resourceType: 'Observation', subject: { reference: 'Patient/pt-1' } },
    },
  },
];

/** The requests and concurrency of each size: a bundle costs ~entries checks. */
const SIZES = { bundle_50: 50, bundle_200: 200 };

/** bundle_50 and bundle_200: allowed transaction bundles, closed loops over NATS. */
export async function bundleScenarios(b) {
  const names = Object.keys(SIZES).filter((n) => b.opts.want(n));
  if (names.length === 0) return;
  for (const policy of POLICIES) await b.cluster.admin.put(policy);
  await b.cluster.waitForWorkers(await b.cluster.revisionOf(POLICIES[1]), checkPayload(b.tokens.cached));
  const { rounds } = b.opts.sizes;
  const encoder = new TextEncoder();
  const validate = (msg) => {
    const reply = msg.json();
    return reply.allow === true && reply.status === 200 ? undefined : `${reply.status}: ${reply.reason}`;
  };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const payload = encoder.encode(
          JSON.stringify({
            method: 'POST',
            uri: '/fhir',
            headers: { authorization: `Bearer ${b.tokens.cached}`, 'content-type': 'application/fhir+json' },
            body: transactionBundle(SIZES[name]),
          }),
        );
        // A few hundred bundles are tens of thousands of entry decisions: enough to be stable.
        const count = Math.ceil((b.opts.quick ? 200 : 2000) / rounds);
        b.measurements[name] ??= new Measurement(name);
        await natsLoad(b.cluster.nc, SUBJECTS.check, {
          warmup: new Array(50).fill(payload),
          measured: new Array(count).fill(payload),
          // One bundle per worker in flight: the latency of one bundle's decision, not a queue.
          concurrency: b.cluster.workers.length,
          validate,
          into: b.measurements[name],
        });
      }
    }
  } finally {
    for (const policy of POLICIES) await b.cluster.kv.delete(`AccessPolicy.${policy.id}`);
  }
  for (const name of names) {
    const r = b.measurements[name].result();
    b.log(
      `${name}: ${r.rps} bundles/s, p50 ${r.p50_us} µs, p99 ${r.p99_us} µs per bundle${r.failures ? `, ${r.failures} FAILED: ${r.firstFailure}` : ''}`,
    );
  }
}
