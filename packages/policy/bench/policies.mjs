// Micro-benchmark of the policy hot path: buildRequestContext + PolicySet.decide for 1 / 100 /
// 10 000 AccessPolicies of mixed engines, the allowing one last in id order (issue 6), plus the
// compile cost a worker pays at cold start, the one-pass build of a 10 000-policy set and the cost
// of updating it one policy at a time (issue 6: config propagation). Runs against the built package:
//   pnpm --filter @authz/policy build && node packages/policy/bench/policies.mjs [--quick]
import { buildRequestContext, compileOperationResolver, compilePolicy, PolicySet } from '../dist/index.js';

const quick = process.argv.includes('--quick');
const RUN_MS = quick ? 300 : 1500;

const ISS = 'https://auth.example.com';
const METHODS = ['post', 'put', 'delete'];

/** Policy `i` of a mixed set: matcho, json-schema, complex, linked allow, role-scoped matcho. */
function mixedPolicy(i) {
  const id = `p${String(i).padStart(5, '0')}`;
  switch (i % 5) {
    case 0:
      return { id, engine: 'matcho', matcho: { 'request-method': METHODS[i % 3], uri: `#^/fhir/Type${i}/` } };
    case 1:
      return {
        id,
        engine: 'json-schema',
        schema: {
          required: ['params'],
          properties: {
            params: { required: ['resource/type'], properties: { 'resource/type': { const: `Type${i}` } } },
          },
        },
      };
    case 2:
      return {
        id,
        engine: 'complex',
        and: [
          { engine: 'matcho', matcho: { params: { 'resource/type': `Type${i}` } } },
          {
            engine: 'json-schema',
            schema: {
              required: ['jwt'],
              properties: { jwt: { required: ['iss'], properties: { iss: { constant: ISS } } } },
            },
          },
        ],
      };
    case 3:
      return { id, engine: 'allow', link: [{ resourceType: 'User', id: `user-${i}` }] };
    default:
      return { id, engine: 'matcho', roleName: `role-${i}`, matcho: { 'request-method': 'get' } };
  }
}

/** Every policy pins only a JWT claim: indexed by that path. */
function claimPolicy(i) {
  const id = `p${String(i).padStart(5, '0')}`;
  return { id, engine: 'matcho', matcho: { jwt: { sub: `someone-${i}` } } };
}

/** The worst case, which no index helps: nothing pinned, every policy is evaluated. */
function unindexablePolicy(i) {
  const id = `p${String(i).padStart(5, '0')}`;
  return { id, engine: 'matcho', matcho: { jwt: { groups: { $contains: `group-${i}` } } } };
}

/** Every policy linked to an Operation (DESIGN §12) the request is not: none is a candidate. */
function operationPolicy(i) {
  const id = `p${String(i).padStart(5, '0')}`;
  return { id, engine: 'matcho', link: [{ reference: `Operation/op-${i}` }], matcho: { jwt: { sub: 'x' } } };
}

const ALLOWING = { id: 'zz-allow', engine: 'matcho', matcho: { 'request-method': 'get', jwt: { iss: ISS } } };

function build(count, make) {
  const resources = [];
  for (let i = 0; i < count - 1; i++) resources.push({ resourceType: 'AccessPolicy', ...make(i) });
  resources.push({ resourceType: 'AccessPolicy', ...ALLOWING });
  const started = performance.now();
  const compiled = resources.map((r) => compilePolicy(r, { lazy: true }));
  const set = new PolicySet(compiled);
  return { set, compileMs: performance.now() - started };
}

const request = {
  method: 'GET',
  uri: '/fhir/Patient/123?_elements=id,name',
  headers: { authorization: 'Bearer x', accept: 'application/fhir+json' },
};
const identity = {
  jwt: { iss: ISS, sub: 'some-user-id', exp: 1767225600 },
  user: { id: 'some-user-id', resourceType: 'User' },
};
const operations = compileOperationResolver();

function measure(set) {
  const once = () => {
    const operation = operations.resolveTarget(request.method, request.uri);
    const ctx = buildRequestContext(request, identity, operation?.ref);
    const decision = set.decide(ctx, { user: 'some-user-id', operation: operation?.id, roles: NO_ROLES });
    if (decision.policy !== 'zz-allow') throw new Error(`unexpected decision ${decision.policy}`);
  };
  for (let i = 0; i < 20_000; i++) once();
  const samples = [];
  let ops = 0;
  const started = performance.now();
  while (performance.now() - started < RUN_MS) {
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) once();
    samples.push((performance.now() - t0) * 10); // µs per op in this batch of 100
    ops += 100;
  }
  const elapsed = performance.now() - started;
  samples.sort((a, b) => a - b);
  return {
    rps: Math.round((ops / elapsed) * 1000),
    p50_us: round(samples[Math.floor(samples.length * 0.5)]),
    p99_us: round(samples[Math.floor(samples.length * 0.99)]),
  };
}

const NO_ROLES = new Set();
const round = (v) => Math.round(v * 100) / 100;
const rows = [];
let floor;
for (const [name, count, make] of [
  ['policies_1', 1, mixedPolicy],
  ['policies_100', 100, mixedPolicy],
  ['policies_10000', 10_000, mixedPolicy],
  ['policies_10000_pinned_claim', 10_000, claimPolicy],
  ['policies_10000_unindexable', 10_000, unindexablePolicy],
  ['policies_10000_operation_linked', 10_000, operationPolicy],
]) {
  const { set, compileMs } = build(count, make);
  const result = measure(set);
  floor ??= result.rps;
  rows.push({
    scenario: name,
    ...result,
    ratio: round(result.rps / floor),
    compile_lazy_ms: Math.round(compileMs),
  });
}
const eager = performance.now();
for (let i = 0; i < 2000; i++) compilePolicy({ resourceType: 'AccessPolicy', ...mixedPolicy(i * 5 + 1) });
rows.push({
  scenario: 'eager json-schema compile, 2000 distinct',
  compile_ms: Math.round(performance.now() - eager),
});
console.table(rows);

console.table(measureResolver());

const maintenance = measureMaintenance();
console.table(maintenance);
console.log(JSON.stringify({ node: process.version, quick, rows, maintenance }));

/**
 * Building and updating a set of 10 000 mixed policies, compiled beforehand (as the worker holds
 * them): `new PolicySet` (best and median of several), then upserts of new ids, replacements and
 * deletes one at a time (each its own `update`, as a single KV change is), then the set loaded one
 * policy at a time, and its decision throughput (the index it reaches must be as good as a build's).
 */
function measureMaintenance() {
  const count = 10_000;
  const compiled = [];
  for (let i = 0; i < count - 1; i++)
    compiled.push(compilePolicy({ resourceType: 'AccessPolicy', ...mixedPolicy(i) }, { lazy: true }));
  compiled.push(compilePolicy({ resourceType: 'AccessPolicy', ...ALLOWING }, { lazy: true }));
  const builds = [];
  let set;
  for (let k = 0; k < (quick ? 3 : 9); k++) {
    const t0 = performance.now();
    set = new PolicySet(compiled);
    builds.push(performance.now() - t0);
  }
  /** @type {Array<{ operation: string, best: number, median?: number, p99?: number, max?: number, unit: string }>} */
  const out = [{ operation: 'new PolicySet(10 000 mixed)', ...stats(builds, 'ms') }];
  const ops = quick ? 300 : 2000;
  // New ids spread over the id space (between existing ones), then the same ids replaced, then deleted.
  const variant = (k, shift) => {
    const i = Math.floor((k * count) / ops);
    const id = `p${String(i).padStart(5, '0')}-new`;
    return compilePolicy({ resourceType: 'AccessPolicy', ...mixedPolicy(i + shift), id }, { lazy: true });
  };
  const fresh = Array.from({ length: ops }, (_, k) => variant(k, 7));
  const replacements = Array.from({ length: ops }, (_, k) => variant(k, 11));
  const timed = (label, each) => {
    const times = [];
    for (let k = 0; k < ops; k++) {
      const t0 = performance.now();
      each(k);
      times.push((performance.now() - t0) * 1000);
    }
    out.push({ operation: label, ...stats(times, 'µs') });
  };
  timed('update: upsert a new id', (k) => set.update([fresh[k]]));
  timed('update: replace a held id', (k) => set.update([replacements[k]]));
  timed('update: delete', (k) => set.update([], [fresh[k].id]));
  const t0 = performance.now();
  const loaded = new PolicySet([]);
  for (const policy of compiled) loaded.update([policy]);
  out.push({
    operation: 'load 10 000 one update at a time (total)',
    best: round(performance.now() - t0),
    unit: 'ms',
  });
  const built = measure(new PolicySet(compiled));
  const incremental = measure(loaded);
  out.push({
    operation: 'decide rps, set built in one pass',
    best: built.rps,
    p99: built.p99_us,
    unit: 'rps / µs',
  });
  out.push({
    operation: 'decide rps, set loaded one by one',
    best: incremental.rps,
    p99: incremental.p99_us,
    unit: 'rps / µs',
  });
  return out;
}

function stats(values, unit) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]);
  return { best: at(0), median: at(0.5), p99: at(0.99), max: at(1), unit };
}

/** The Operation resolver alone (DESIGN §12: well under a microsecond per request). */
function measureResolver() {
  /** @type {[string, string][]} */
  const targets = [
    ['GET', '/fhir/Patient/123'],
    ['GET', '/fhir/Patient?name=smith'],
    ['PUT', '/fhir/Patient?identifier=a|1'],
    ['GET', '/fhir/Patient/pt-1/_history/2'],
    ['GET', '/fhir/Patient/pt-1/Observation'],
    ['POST', '/fhir/Patient/$validate'],
    ['POST', '/fhir'],
    ['GET', '/Patient/pt-1'],
    ['GET', '/api/not/fhir/at/all'],
  ];
  const iterations = quick ? 200_000 : 1_000_000;
  let found = 0;
  for (let i = 0; i < 100_000; i++) if (operations.resolveTarget(...targets[i % targets.length])) found++;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) if (operations.resolveTarget(...targets[i % targets.length])) found++;
  const us = ((performance.now() - t0) * 1000) / iterations;
  return [{ scenario: 'resolve Operation (mixed targets)', us_per_call: round(us), resolved: found > 0 }];
}
