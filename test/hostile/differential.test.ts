import { gzipSync } from 'node:zlib';
import { buildRequestContext, partialityOf } from '@authz/policy';
import { type CheckRequest, parseRequestTarget, REQUEST_ID_HEADER, subjects } from '@authz/protocol';
import type { TestCluster } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RawRequest,
  type RecordingUpstream,
  sendRaw,
  startIntegrityCluster,
} from './integrity-cluster.js';

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
const CONCURRENCY = 8;

function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Each pool has well-formed but odd entries (first) and hostile ones (second), picked 85:15.
const SEGMENTS: [string[], string[]] = [
  [
    'fhir',
    'Patient',
    'pt-1',
    '%70t-1',
    '%C3%A9',
    '_history',
    '1',
    '$everything',
    '..a',
    'A-Z.09',
    '%20',
    'x%7Cy',
    '%E2%82%AC',
    '~user',
    "!$&'()*+,=:@",
    '%2E%2Ex',
    '%3F',
    '%23',
  ],
  ['..', '.', '%2e%2e', '%2E', '.%2e', 'a%2Fb', 'a%5cb', 'a;b', '', '%00', '%0a', '%zz', '%C3', 'a%252e'],
];
const PARAMS: [string[], string[]] = [
  [
    'a=1',
    'a=2',
    'name=smith',
    'name=sm%69th',
    '_format=xml',
    '_format=json',
    'q=a+b',
    'q=a%2Bb',
    'e=%C3%A9',
    'flag',
    '=v',
    'k=',
    '&',
    'toString=1',
    'constructor=x',
    'i=http://x.org|1',
    'p=a\\b',
    '_revinclude=Observation:subject',
    'x=%26y%3Dz',
  ],
  [
    'resource/id=pt-1',
    'resource%2Fid=pt-2',
    'resource/type=Patient',
    'x=%00',
    'x=%0D%0A',
    'bad=%E0%A4%A',
    '__proto__=x',
    'x=%zz',
    'x=1;_revinclude=Observation:subject',
    '_revinclude[]=Observation:subject',
  ],
];
const CONTENT_TYPES = [
  'application/json',
  'application/fhir+json',
  'application/fhir+json; charset=utf-8',
  'text/plain',
  'application/xml',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/merge-patch+json',
];
const BODIES = [
  '{"resourceType":"Observation","status":"final"}',
  '{"status":"final","status":"preliminary"}',
  '{"a":{"b":[1,2,{"c":"\\u0000"}]},"d":null,"e":""}',
  '{"a":1',
  '[1,2,3]',
  '"just a string"',
  '{"st\\u0061tus":"x","status":"y"}',
  '{"nested":'.repeat(20) + '1' + '}'.repeat(20),
  '{"nested":'.repeat(70) + '1' + '}'.repeat(70),
  'not json at all',
];

const FORM_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=UTF-8',
  'Application/X-WWW-Form-Urlencoded',
  'application/x-www-form-urlencoded; charset=ISO-8859-1',
  'multipart/form-data; boundary=b',
];
// Raw characters a form body may not hold unencoded (the query's rules: DESIGN §10).
const FORM_HOSTILE = ['x=a b', 'x=a\nb', 'x=\u00e9', 'x=\r\n'];

interface Generated {
  request: RawRequest;
  id: string;
}

function generate(random: () => number, index: number): Generated {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const mostly = (pools: [string[], string[]]): string => pick(random() < 0.85 ? pools[0] : pools[1]);
  const id = `diff-${SEED}-${index}`;
  const segments = Array.from({ length: 1 + Math.floor(random() * 5) }, () => mostly(SEGMENTS));
  let path = `/${segments.join('/')}`;
  if (random() < 0.02) path = `http://upstream.example${path}`;
  if (random() < 0.6) {
    const count = random() < 0.03 ? 250 + Math.floor(random() * 12) : Math.floor(random() * 6);
    path += `?${Array.from({ length: count }, () => mostly(PARAMS)).join('&')}`;
  }
  if (random() < 0.02) path += '#frag';
  const headers: Array<[string, string]> = [['X-Request-Id', id]];
  const extra: Array<[string, string]> = [
    ['X_Authz_User', 'admin'],
    ['x-authz-policy', 'forged'],
    ['X-Authz_Subject', 'root'],
    ['X-HTTP-Method-Override', 'DELETE'],
    ['x_http_method', 'PUT'],
    ['X-Forwarded-For', '203.0.113.9'],
    ['X-Forwarded-Proto', 'https'],
    ['Forwarded', 'for=203.0.113.9'],
    ['X-Real-IP', '203.0.113.9'],
    ['Authorization', 'Bearer not-a-token'],
    ['Authorization', 'Bearer another'],
    ['X-Custom', 'v'],
  ];
  for (const header of extra) if (random() < 0.04) headers.push(header);
  const form = random() < 0.3;
  const method = form && random() < 0.75 ? 'POST' : pick(['GET', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
  const request: RawRequest = { method, path, headers };
  if (form) {
    // A form body, mostly a POST search: fields from the query's pools, a few raw hostile ones.
    if (method === 'POST' && random() < 0.5) request.path = path.replace(/(\?|$)/, '/_search$1');
    const count = random() < 0.03 ? 250 + Math.floor(random() * 12) : Math.floor(random() * 6);
    const fields = Array.from({ length: count }, () =>
      random() < 0.03 ? pick(FORM_HOSTILE) : mostly(PARAMS),
    );
    let body = Buffer.from(fields.join('&'));
    if (random() < 0.05) {
      body = gzipSync(body);
      headers.push(['Content-Encoding', 'gzip']);
    }
    headers.push(['Content-Type', random() < 0.8 ? (FORM_TYPES[0] as string) : pick(FORM_TYPES)]);
    request.body = body;
    request.chunked = random() < 0.4;
  } else if (method !== 'GET' && random() < 0.8) {
    let body = Buffer.from(pick(BODIES));
    if (random() < 0.05) body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]);
    if (random() < 0.04) body = Buffer.concat([body, Buffer.alloc(70_000, 0x20)]);
    if (random() < 0.06) {
      body = gzipSync(body);
      headers.push(['Content-Encoding', 'gzip']);
    }
    if (random() < 0.95) headers.push(['Content-Type', pick(CONTENT_TYPES)]);
    request.body = body;
    request.chunked = random() < 0.4;
  }
  return { request, id };
}

/** The path as an upstream that normalises it reads it: WHATWG URL resolution, then decoding. */
function upstreamPath(url: string): string {
  const pathname = new URL(url, 'http://upstream.example').pathname;
  return pathname
    .split('/')
    .map((s) => decodeURIComponent(s))
    .join('/');
}

/** The query as another parser reads it (URLSearchParams), empty names and values dropped. */
function upstreamParams(url: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const q = url.indexOf('?');
  for (const [name, value] of new URLSearchParams(q < 0 ? '' : url.slice(q + 1))) {
    if (name === '' || value === '') continue;
    const prior = Object.hasOwn(out, name) ? out[name] : undefined;
    out[name] = prior === undefined ? value : [prior, value].flat();
  }
  return out;
}

/**
 * Whether an upstream that reads form fields as parameters (servlet containers for a POST, Ring for
 * any method) reads this request's body so: a form Content-Type. Its fields are then parameters.
 */
function readsForm(got: { method: string; headers: Record<string, unknown> }): boolean {
  const type = String(got.headers['content-type'] ?? '').toLowerCase();
  return /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/.test(type);
}

/** The parameters of the query and then the form body, as URLSearchParams reads both. */
function upstreamFormParams(url: string, body: Buffer): Record<string, string | string[]> {
  const out = upstreamParams(url);
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
    if (name === '' || value === '') continue;
    const prior = Object.hasOwn(out, name) ? out[name] : undefined;
    out[name] = prior === undefined ? value : [prior, value].flat();
  }
  return out;
}

/** The context's `params` without the route parameters, the way upstreamParams lists them. */
function contextParams(params: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries((params ?? {}) as Record<string, string | string[]>)) {
    if (!name.startsWith('resource/')) out[name] = value;
  }
  return nonEmpty(out);
}

function nonEmpty(params: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(params)) {
    const kept = Array.isArray(value) ? value.filter((v) => v !== '') : value;
    if (kept === '' || (Array.isArray(kept) && kept.length === 0)) continue;
    out[name] = Array.isArray(kept) && kept.length === 1 ? (kept[0] as string) : kept;
  }
  return out;
}

/**
 * A form-reading upstream's parameters against the context the worker built from the check: the
 * same, or the context's `params` partial (no policy allows by them). Counted in `formsCompared`.
 */
function formProblems(
  check: CheckRequest,
  got: { method: string; url: string; headers: Record<string, unknown>; body: Buffer },
): (string | false)[] {
  if (!readsForm(got) || got.body.length === 0) return [];
  const context = buildRequestContext(check);
  if (partialityOf(context.params) !== undefined) {
    formsPartial++;
    return [check.body_form !== undefined && 'a form shown as body_form left params partial'];
  }
  formsCompared++;
  const upstream = upstreamFormParams(got.url, got.body);
  const seen = contextParams(context.params);
  return [
    check.body_form === undefined && 'a form body reached the upstream, params neither showed nor marked it',
    JSON.stringify(upstream) !== JSON.stringify(seen) &&
      `URLSearchParams reads query and form as ${JSON.stringify(upstream)}, the policy saw ${JSON.stringify(seen)}`,
  ];
}
let formsCompared = 0;
let formsPartial = 0;

describe(`differential: ${COUNT} seeded hostile requests (seed ${SEED}), upstream vs the worker's check`, () => {
  let cluster: TestCluster;
  let upstream: RecordingUpstream;
  const checks = new Map<string, CheckRequest>();

  beforeAll(async () => {
    ({ cluster, upstream } = await startIntegrityCluster());
    const res = await cluster.admin('PUT', '/AccessPolicy/differential-allow-all', {
      resourceType: 'AccessPolicy',
      engine: 'allow',
    });
    expect(res.status).toBe(201);
    // A plain (non-queue) subscriber receives a copy of every check request the worker answers.
    cluster.nc.subscribe(subjects().check, {
      callback: (_err, msg) => {
        const id = msg.headers?.get(REQUEST_ID_HEADER);
        if (id) checks.set(id, msg.json<CheckRequest>());
      },
    });
    await new Promise((r) => setTimeout(r, 500));
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await upstream?.close();
  });

  it('every request the upstream receives is the request that was checked; all others are refused', async () => {
    const random = rng(SEED);
    const generated = Array.from({ length: COUNT }, (_, i) => generate(random, i));
    const statuses = new Map<string, number>();
    upstream.received.length = 0;
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < generated.length) {
          const g = generated[next++] as Generated;
          const res = await sendRaw(cluster.gatewayUrl, g.request).catch(() => ({ status: 0 }));
          statuses.set(g.id, res.status);
        }
      }),
    );
    const elapsed = Date.now() - started;
    const mismatches: string[] = [];
    const byId = new Map(upstream.received.map((r) => [String(r.headers['x-request-id']), r]));
    for (const g of generated) {
      const status = statuses.get(g.id);
      const got = byId.get(g.id);
      if (status === 200 && got === undefined) mismatches.push(`${g.id}: 200 but the upstream never saw it`);
      if (got === undefined) continue;
      if (status !== 200) mismatches.push(`${g.id}: answered ${status} but reached the upstream`);
      const check = checks.get(g.id);
      if (check === undefined) {
        mismatches.push(`${g.id}: reached the upstream without a check`);
        continue;
      }
      const target = parseRequestTarget(check.uri);
      const problems = [
        got.method !== check.method && `method ${got.method} ≠ ${check.method}`,
        got.url !== check.uri && `target ${got.url} ≠ ${check.uri}`,
        'refused' in target && `a refused target was checked: ${target.reason}`,
        !('refused' in target) &&
          upstreamPath(got.url) !== target.path &&
          `a normalising upstream reads ${upstreamPath(got.url)}, the policy saw ${target.path}`,
        !('refused' in target) &&
          JSON.stringify(upstreamParams(got.url)) !== JSON.stringify(nonEmpty(target.params)) &&
          `URLSearchParams reads ${JSON.stringify(upstreamParams(got.url))}, the policy saw ${JSON.stringify(target.params)}`,
        got.headers.authorization !== (check.headers as Record<string, unknown>)?.authorization &&
          'Authorization differs',
        got.rawHeaders.some((h, i) => i % 2 === 0 && /^x[-_]authz[-_]/i.test(h) && h !== h.toLowerCase()) &&
          'a client-spelled x-authz header reached the upstream',
        check.body === null &&
          got.body.length > 0 &&
          got.body.toString('utf8').trim() !== 'null' &&
          'a body reached the upstream that the check called empty',
        check.body !== undefined &&
          check.body !== null &&
          JSON.stringify(JSON.parse(got.body.toString('utf8'))) !== JSON.stringify(check.body) &&
          'the body differs from the one checked',
        check.body === undefined &&
          check.body_unavailable === undefined &&
          check.body_form === undefined &&
          got.body.length > 0 &&
          'a body reached the upstream that the check neither showed nor marked unavailable',
        check.body_form !== undefined &&
          got.body.toString('utf8') !== check.body_form &&
          'the form body differs from the one checked',
        ...formProblems(check, got),
        got.headers['x-http-method-override'] !== undefined && 'a method override reached the upstream',
        got.headers['x-forwarded-proto'] !== 'http' && 'an untrusted X-Forwarded-Proto reached the upstream',
        got.headers['x-real-ip'] !== undefined && 'an untrusted X-Real-IP reached the upstream',
      ].filter(Boolean);
      for (const p of problems) mismatches.push(`${g.id} ${g.request.method} ${g.request.path}: ${p}`);
    }
    const reached = upstream.received.length;
    process.stdout.write(
      `differential: ${COUNT} requests in ${elapsed} ms, ${reached} reached the upstream, ${COUNT - reached} refused, ${mismatches.length} mismatches; form bodies reaching it: ${formsCompared} compared field by field, ${formsPartial} with params partial\n`,
    );
    expect(mismatches).toEqual([]);
    // The generator must exercise both sides, or the comparison proves nothing.
    expect(reached).toBeGreaterThan(COUNT / 10);
    expect(COUNT - reached).toBeGreaterThan(COUNT / 10);
    expect(formsCompared).toBeGreaterThan(COUNT / 50);
    expect(formsPartial).toBeGreaterThan(0);
  }, 300_000);
});
