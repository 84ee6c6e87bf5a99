import type { TestCluster } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDifferential, tapChecks } from './differential-compare.js';
import { type RecordingUpstream, startIntegrityCluster } from './integrity-cluster.js';

// The differential test of DESIGN §10: seeded hostile requests (odd targets, encodings, repeated
// and oversized parameters, header spellings, bodies of every framing and media type) through the
// real gateway to a recording upstream, while a plain NATS subscriber taps every check request a
// worker decides on. For each request the upstream receives, its method, target, query, body and
// identity headers must be exactly those of the check the worker's context was built from — and
// read by an upstream that normalises paths (WHATWG URL) and parses queries its own way
// (URLSearchParams), they must still mean what the policy saw. Form bodies (FHIR search by POST)
// are read by that upstream as parameters too, as servlet containers and Ring do: the context's
// `params` must be query and form together — or marked partial, so no policy allows by them.
// Everything else must be refused.
//
// DIFFERENTIAL_REQUESTS (default 1500 in `npm test`) and DIFFERENTIAL_SEED choose the run; the
// hostile suite's long mode: DIFFERENTIAL_REQUESTS=20000 pnpm exec vitest run test/hostile/differential.

const COUNT = Number(process.env.DIFFERENTIAL_REQUESTS ?? 1500);
const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 20261206);

describe(`differential: ${COUNT} seeded hostile requests (seed ${SEED}), upstream vs the worker's check`, () => {
  let cluster: TestCluster;
  let upstream: RecordingUpstream;
  let checks: ReturnType<typeof tapChecks>;

  beforeAll(async () => {
    ({ cluster, upstream } = await startIntegrityCluster());
    const res = await cluster.admin('PUT', '/AccessPolicy/differential-allow-all', {
      resourceType: 'AccessPolicy',
      engine: 'allow',
    });
    expect(res.status).toBe(201);
    checks = tapChecks(cluster.nc);
    await new Promise((r) => setTimeout(r, 500));
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await upstream?.close();
  });

  it('every request the upstream receives is the request that was checked; all others are refused', async () => {
    const run = await runDifferential({
      baseUrl: cluster.gatewayUrl,
      upstream,
      checks,
      count: COUNT,
      seed: SEED,
    });
    process.stdout.write(
      `differential: ${COUNT} requests in ${run.elapsedMs} ms, ${run.reached} reached the upstream, ${COUNT - run.reached} refused, ${run.mismatches.length} mismatches; form bodies reaching it: ${run.tally.compared} compared field by field, ${run.tally.partial} with params partial\n`,
    );
    expect(run.mismatches).toEqual([]);
    // The generator must exercise both sides, or the comparison proves nothing.
    expect(run.reached).toBeGreaterThan(COUNT / 10);
    expect(COUNT - run.reached).toBeGreaterThan(COUNT / 10);
    expect(run.tally.compared).toBeGreaterThan(COUNT / 50);
    expect(run.tally.partial).toBeGreaterThan(0);
  }, 300_000);
});
