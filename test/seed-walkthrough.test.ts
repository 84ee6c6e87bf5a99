import { subjects } from '@authz/protocol';
import {
  SEED_INTROSPECTOR_SECRET,
  SEED_POLICY_JSON_SCHEMA,
  SEED_USER,
  startCluster,
  type TestCluster,
} from '@authz/test-support';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The seed's three YAML bodies, verbatim (DESIGN: the walkthrough's JWT carries sub: some-user-id).
const INTROSPECTOR_YAML = SEED_INTROSPECTOR_SECRET;
const POLICY_YAML = SEED_POLICY_JSON_SCHEMA;
const USER_YAML = SEED_USER;

const secret = new TextEncoder().encode('very-secret');
const now = () => Math.floor(Date.now() / 1000);

async function mint(
  claims: Record<string, unknown>,
  key: Uint8Array = secret,
  alg = 'HS256',
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);
}

function unsigned(claims: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

describe('seed walkthrough end to end (real NATS, Redis, config, 2 workers, gateway)', () => {
  let cluster: TestCluster;
  let goodToken: string;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 2 });
    for (const [path, body] of [
      ['/TokenIntrospector/external-auth-server', INTROSPECTOR_YAML],
      ['/AccessPolicy/external-auth-server', POLICY_YAML],
      ['/User/some-user-id', USER_YAML],
    ] as const) {
      const res = await cluster.admin('PUT', path, body, 'text/yaml');
      expect(res.status, `${path}: ${await res.clone().text()}`).toBe(201);
    }
    goodToken = await mint({
      iss: 'https://auth.example.com',
      sub: 'some-user-id',
      exp: now() + 3600,
      iat: now(),
    });
    await waitUntil(async () => (await gatewayGet(goodToken)).status === 200);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const gatewayGet = (token?: string, path = '/fhir/Patient') =>
    fetch(
      cluster.gatewayUrl + path,
      token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
    );

  async function checkOverNats(request: Record<string, unknown>) {
    const msg = await cluster.nc.request(subjects().check, JSON.stringify(request), { timeout: 2000 });
    return msg.json<Record<string, unknown>>();
  }

  it('allows GET /fhir/Patient through the gateway with the seed JWT', async () => {
    const res = await gatewayGet(goodToken);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ allow: true, status: 200, policy: 'external-auth-server' });
    expect(res.headers.get('x-authz-user')).toBe('some-user-id');
    expect(res.headers.get('x-authz-policy')).toBe('external-auth-server');
  });

  it('answers allow over NATS directly with policy, identity and revision', async () => {
    const reply = await checkOverNats({
      method: 'GET',
      uri: '/fhir/Patient',
      headers: { Authorization: `bearer ${goodToken}` },
    });
    expect(reply).toMatchObject({
      allow: true,
      status: 200,
      policy: 'external-auth-server',
      reason: 'allowed by AccessPolicy/external-auth-server',
      identity: {
        kind: 'jwt',
        introspector: 'external-auth-server',
        iss: 'https://auth.example.com',
        sub: 'some-user-id',
        user: 'some-user-id',
      },
    });
    expect(reply.revision).toBeGreaterThanOrEqual(3);
    expect(JSON.stringify(reply)).not.toContain(goodToken);
  });

  const cases: Array<[string, () => Promise<string | undefined>, RegExp]> = [
    ['no token', async () => undefined, /needs a bearer token/],
    [
      'a wrong signature',
      () =>
        mint(
          { iss: 'https://auth.example.com', sub: 'some-user-id', exp: now() + 600 },
          new TextEncoder().encode('not-the-secret'),
        ),
      /signature/i,
    ],
    [
      'an expired token',
      () => mint({ iss: 'https://auth.example.com', sub: 'some-user-id', exp: now() - 3600 }),
      /expired/i,
    ],
    [
      'nbf in the future',
      () =>
        mint({ iss: 'https://auth.example.com', sub: 'some-user-id', exp: now() + 7200, nbf: now() + 3600 }),
      /not (yet )?valid|nbf/i,
    ],
    [
      'an unknown issuer',
      () => mint({ iss: 'https://evil.example.com', sub: 'some-user-id', exp: now() + 600 }),
      /issuer/i,
    ],
    [
      'alg none',
      async () => unsigned({ iss: 'https://auth.example.com', sub: 'some-user-id', exp: now() + 600 }),
      /none|alg/i,
    ],
    ['a garbage token', async () => 'definitely-not-a-token', /./],
  ];
  it.each(cases)('answers 401 invalid_token with a specific reason for %s', async (_name, token, reason) => {
    const res = await gatewayGet(await token());
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer realm="authz", error="invalid_token", error_description="[^"]+"$/);
    const outcome = (await res.json()) as { resourceType: string; issue: Array<{ diagnostics: string }> };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]!.diagnostics).toMatch(reason);

    const t = await token();
    const reply = await checkOverNats({
      method: 'GET',
      uri: '/fhir/Patient',
      headers: t ? { authorization: `Bearer ${t}` } : {},
    });
    expect(reply).toMatchObject({ allow: false, status: 401, error: 'invalid_token' });
    expect(reply.reason).toMatch(reason);
  });

  it('answers 403 when the token is valid but the only policy demands something else', async () => {
    const other = await mint({ iss: 'https://auth.example.com', sub: 'some-user-id', exp: now() + 600 });
    const strict = `resourceType: AccessPolicy
id: external-auth-server
engine: json-schema
schema:
  required: [jwt]
  properties:
    jwt:
      required: [scope]
      properties:
        scope: {constant: admin}
`;
    expect((await cluster.admin('PUT', '/AccessPolicy/external-auth-server', strict)).status).toBe(200);
    try {
      await waitUntil(async () => (await gatewayGet(other)).status === 403);
      const res = await gatewayGet(other);
      expect(res.status).toBe(403);
      const outcome = (await res.json()) as { issue: Array<{ code: string; diagnostics: string }> };
      expect(outcome.issue[0]).toMatchObject({ code: 'forbidden' });
      expect(outcome.issue[0]!.diagnostics).toMatch(
        /no AccessPolicy allows GET \/fhir\/Patient for User\/some-user-id/,
      );
    } finally {
      expect((await cluster.admin('PUT', '/AccessPolicy/external-auth-server', POLICY_YAML)).status).toBe(
        200,
      );
      await waitUntil(async () => (await gatewayGet(other)).status === 200);
    }
  });

  it('flips to 403 on every worker within 1 s of deleting the policy, and back to 200 when it returns', async () => {
    const workersSeen = new Set<string>();
    const events = cluster.nc.subscribe(subjects().decisions, {
      callback: (_e, msg) => {
        workersSeen.add(String(msg.json<{ worker: string }>().worker));
      },
    });
    expect((await cluster.admin('DELETE', '/AccessPolicy/external-auth-server')).status).toBe(200);
    const deleted = Date.now();
    await waitUntil(async () => {
      const statuses = await Promise.all(
        Array.from({ length: 20 }, () => gatewayGet(goodToken).then((r) => r.status)),
      );
      return statuses.every((s) => s === 403);
    }, 1000);
    expect(Date.now() - deleted).toBeLessThan(1000);
    expect(
      (await cluster.admin('PUT', '/AccessPolicy/external-auth-server', POLICY_YAML, 'text/yaml')).status,
    ).toBe(201);
    const restored = Date.now();
    await waitUntil(async () => {
      const statuses = await Promise.all(
        Array.from({ length: 20 }, () => gatewayGet(goodToken).then((r) => r.status)),
      );
      return statuses.every((s) => s === 200);
    }, 1000);
    expect(Date.now() - restored).toBeLessThan(1000);
    events.unsubscribe();
    expect(workersSeen.size).toBe(2);
  });

  it('rejects bad config and stores nothing', async () => {
    const before = await (await cluster.admin('GET', '/AccessPolicy')).json();
    const bad: Array<[string, string, string, number]> = [
      ['/AccessPolicy/x', 'resourceType: AccessPolicy\nengine: [unclosed\n', 'text/yaml', 400],
      ['/AccessPolicy/x', 'resourceType: AccessPolicy\nid: x\nid: y\nengine: allow\n', 'text/yaml', 400],
      ['/AccessPolicy/x', 'resourceType: AccessPolicy\nid: y\nengine: allow\n', 'text/yaml', 422],
      [
        '/AccessPolicy/x',
        'resourceType: AccessPolicy\nengine: sql\nsql:\n  query: select true\n',
        'text/yaml',
        422,
      ],
    ];
    for (const [path, body, type, status] of bad) {
      const res = await cluster.admin('PUT', path, body, type);
      expect(res.status, body).toBe(status);
      expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    }
    const unauth = await fetch(`${cluster.configUrl}/AccessPolicy/x`, {
      method: 'PUT',
      body: 'engine: allow',
      headers: { 'content-type': 'text/yaml' },
    });
    expect(unauth.status).toBe(401);
    expect(await (await cluster.admin('GET', '/AccessPolicy')).json()).toEqual(before);
    expect((await cluster.admin('GET', '/AccessPolicy/x')).status).toBe(404);
  });

  it('spreads checks over both workers and never hangs or wrongly allows when one stops mid-run', async () => {
    const workersSeen = new Set<string>();
    const events = cluster.nc.subscribe(subjects().decisions, {
      callback: (_e, msg) => {
        workersSeen.add(String(msg.json<{ worker: string }>().worker));
      },
    });
    // Expired beyond the 60 s clock skew.
    const badToken = await mint({ iss: 'https://auth.example.com', sub: 'some-user-id', exp: now() - 3600 });
    const results: Array<{ good: boolean; status: number }> = [];
    let stopped = false;
    const load = Array.from({ length: 8 }, async (_v, lane) => {
      for (let i = 0; i < 60; i++) {
        const good = (i + lane) % 2 === 0;
        const res = await gatewayGet(good ? goodToken : badToken);
        results.push({ good, status: res.status });
        if (!stopped && results.length === 150) {
          stopped = true;
          void cluster.workers[0]!.stop('SIGKILL');
        }
      }
    });
    await Promise.all(load);
    events.unsubscribe();
    expect(results).toHaveLength(480);
    expect(workersSeen.size).toBe(2);
    expect(results.filter((r) => !r.good && r.status === 200)).toHaveLength(0);
    for (const r of results) expect(r.good ? [200, 503] : [401, 503]).toContain(r.status);
    // The single retry within the deadline absorbs most of a killed worker's in-flight checks.
    expect(results.filter((r) => r.status === 503).length).toBeLessThan(20);
  });
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
