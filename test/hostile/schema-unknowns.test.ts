import { subjects } from '@authz/protocol';
import { mintJwt, startCluster, type TestCluster } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCorpus, until } from './support.js';

// DESIGN §10 against a real worker over NATS (corpus/schema-unknowns.json): what the worker does
// not have, or a value of a shape the policy was not written for, never makes a policy allow.

interface UnknownCase {
  name: string;
  as?: 'alice';
  schema?: unknown;
  matcho?: Record<string, unknown>;
  request: { method: string; query?: string; body?: unknown; body_unavailable?: string };
  allow: boolean;
}

const corpus = readCorpus<{ cases: UnknownCase[] }>('schema-unknowns.json');
const ISS = 'https://unknowns.test';
const SECRET = 'unknowns-check-secret-0123456789';

// DESIGN §10 bounded cost: three branches per level, each recursing before it fails — 3^60
// subschema applications over a body nested 60 deep unless the evaluation budget stops it.
const lateFailing = (name: string) => ({
  allOf: [{ properties: { a: { $ref: '#/definitions/n' } } }, { required: [name] }],
});
const COSTLY = {
  definitions: { n: { anyOf: [lateFailing('q1'), lateFailing('q2'), lateFailing('q3')] } },
  required: ['uri', 'body'],
  properties: { uri: { const: '/costly' }, body: { $ref: '#/definitions/n' } },
};

function nestedBody(depth: number): unknown {
  let body: unknown = { x: 1 };
  for (let i = 0; i < depth; i++) body = { a: body };
  return body;
}

function policyOf(c: UnknownCase, index: number): Record<string, unknown> {
  const uri = `/case/${index}`;
  if (c.matcho !== undefined) {
    return { resourceType: 'AccessPolicy', engine: 'matcho', matcho: { uri, ...c.matcho } };
  }
  return {
    resourceType: 'AccessPolicy',
    engine: 'json-schema',
    schema: { allOf: [{ required: ['uri'], properties: { uri: { const: uri } } }, c.schema] },
  };
}

describe('unknowns never allow: json-schema and body-less writes over NATS (DESIGN §10)', () => {
  let cluster: TestCluster;
  let alice: string;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 1, gateway: false });
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/hs',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: ISS, secret: SECRET } },
      ],
      ...corpus.cases.map((c, i) => [`/AccessPolicy/case-${i}`, policyOf(c, i)] as [string, unknown]),
      ['/AccessPolicy/costly', { resourceType: 'AccessPolicy', engine: 'json-schema', schema: COSTLY }],
      ['/AccessPolicy/ready', { resourceType: 'AccessPolicy', engine: 'matcho', matcho: { uri: '/ready' } }],
    ];
    for (const [path, body] of puts) {
      const res = await cluster.admin('PUT', path, body);
      expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(201);
    }
    alice = await mintJwt({
      key: SECRET,
      alg: 'HS256',
      claims: { iss: ISS, sub: 'alice', patient: 'pt-1', exp: Math.floor(Date.now() / 1000) + 3600 },
    });
    await until(
      'the configuration reaches the worker',
      async () => (await check({ method: 'GET', uri: '/ready' })).status === 200,
    );
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  async function check(request: Record<string, unknown>) {
    const msg = await cluster.nc.request(subjects().check, JSON.stringify(request), { timeout: 10_000 });
    return msg.json<{ allow: boolean; status: number; reason: string }>();
  }

  it.each(corpus.cases.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const { query, ...rest } = c.request;
    const request: Record<string, unknown> = { ...rest, uri: query ? `/case/${i}?${query}` : `/case/${i}` };
    if (c.as === 'alice') request.headers = { authorization: `Bearer ${alice}` };
    const reply = await check(request);
    expect(reply.allow, reply.reason).toBe(c.allow);
    const denied = c.as === 'alice' ? 403 : 401;
    expect(reply.status, reply.reason).toBe(c.allow ? 200 : denied);
  });

  it('a pasted exponential schema cannot pin the worker: the budget stops it, denied in bounded time', async () => {
    const request = { method: 'POST', uri: '/costly', body: nestedBody(60) };
    const started = performance.now();
    const reply = await check(request);
    const elapsed = performance.now() - started;
    expect(reply.status, reply.reason).toBe(401);
    const explained = await check({ ...request, explain: true });
    expect(JSON.stringify(explained)).toContain('steps');
    // Unbounded this never returns; bounded it is milliseconds (generous for a loaded machine).
    expect(elapsed).toBeLessThan(3000);
    expect((await check({ method: 'GET', uri: '/ready' })).status).toBe(200);
  });
});
