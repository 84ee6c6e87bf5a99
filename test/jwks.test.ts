import { startCluster, startIdp, type TestCluster, type TestIdp } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const COOLDOWN_MS = 400;

// Seed scenario 2: the jwks_uri TokenIntrospector, with the test IdP standing in for the
// authorization server (http:// is allowed because the IdP is on loopback).
const introspectorYaml = (idp: TestIdp) => `resourceType: TokenIntrospector
id: external-auth-server
type: "jwt"
jwt:
  iss: ${idp.url}
jwks_uri: ${idp.jwksUri}
`;
const policyYaml = (idp: TestIdp) => `resourceType: AccessPolicy
id: external-auth-server
engine: json-schema
schema:
  required: [jwt]
  properties:
    jwt:
      required: [iss]
      properties:
        iss:
          constant: ${idp.url}
`;

describe('jwks_uri end to end (issue 3): rotation, single-flight across workers, IdP outages', () => {
  let cluster: TestCluster;
  let idp: TestIdp;

  beforeAll(async () => {
    idp = await startIdp();
    cluster = await startCluster({
      workers: 2,
      env: { AUTHZ_JWKS_REFETCH_COOLDOWN_MS: String(COOLDOWN_MS) },
    });
    expect(
      (await cluster.admin('PUT', '/TokenIntrospector/external-auth-server', introspectorYaml(idp))).status,
    ).toBe(201);
    expect((await cluster.admin('PUT', '/AccessPolicy/external-auth-server', policyYaml(idp))).status).toBe(
      201,
    );
    const token = await idp.mint({ sub: 'u1' }, { kid: 'rs256-1' });
    const deadline = Date.now() + 10_000;
    while ((await get(token)).status !== 200) {
      if (Date.now() > deadline) throw new Error('introspector never became usable');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    await cluster?.stop();
    await idp?.dispose();
  });

  const get = (token: string) =>
    fetch(`${cluster.gatewayUrl}/fhir/Patient`, { headers: { authorization: `Bearer ${token}` } });

  it.each(['rs256-1', 'es256-1'])(
    'allows a token signed with the IdP key %s through the gateway',
    async (kid) => {
      const res = await get(await idp.mint({ sub: 'u1' }, { kid }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-authz-subject')).toBe('u1');
    },
  );

  it('accepts a rotated key on first use, with exactly one IdP fetch for 50 concurrent requests across 2 workers', async () => {
    await new Promise((r) => setTimeout(r, COOLDOWN_MS + 50));
    await idp.addKey('RS256', 'rotated-1');
    idp.resetFetches();
    const tokens = await Promise.all(
      Array.from({ length: 50 }, (_v, i) => idp.mint({ sub: `u${i}` }, { kid: 'rotated-1' })),
    );
    idp.setDelay(100); // keep the fetch in flight while the other requests arrive
    const statuses = await Promise.all(tokens.map((t) => get(t).then((r) => r.status)));
    idp.setDelay(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(idp.fetches).toBe(1);
  });

  it('keeps passing tokens with cached keys while the IdP is down; an unknown kid is 503 with a reason; back up → passes', async () => {
    const cachedKeyToken = await idp.mint({ sub: 'u1' }, { kid: 'rs256-1' });
    await new Promise((r) => setTimeout(r, COOLDOWN_MS + 50));
    const fresh = await idp.addKey('ES256', 'while-down');
    await idp.stop();
    try {
      expect((await get(cachedKeyToken)).status).toBe(200);
      const unknown = await idp.mint({ sub: 'u1' }, { kid: fresh.kid });
      const res = await get(unknown);
      expect(res.status).toBe(503);
      const outcome = (await res.json()) as { issue: Array<{ diagnostics: string }> };
      expect(outcome.issue[0]!.diagnostics).toMatch(/key|JWKS|unreachable|could not/i);
      expect((await get(cachedKeyToken)).status).toBe(200);
    } finally {
      await idp.start();
    }
    await new Promise((r) => setTimeout(r, COOLDOWN_MS + 50));
    const again = await idp.mint({ sub: 'u1' }, { kid: 'while-down' });
    expect((await get(again)).status).toBe(200);
  });

  it('serves a worker started while the IdP is down from the key set in Redis', async () => {
    await idp.stop();
    try {
      for (const w of cluster.workers) await w.stop();
      cluster.workers.length = 0;
      await cluster.addWorker({ AUTHZ_JWKS_REFETCH_COOLDOWN_MS: String(COOLDOWN_MS) });
      const token = await idp.mint({ sub: 'u1' }, { kid: 'es256-1' });
      expect((await get(token)).status).toBe(200);
    } finally {
      await idp.start();
    }
  });

  it('verifies straight from the origin when Redis is down, without waiting on Redis', async () => {
    await cluster.redis.stop();
    try {
      await new Promise((r) => setTimeout(r, COOLDOWN_MS + 50));
      await idp.addKey('RS256', 'no-redis');
      const token = await idp.mint({ sub: 'u1' }, { kid: 'no-redis' });
      const started = Date.now();
      const res = await get(token);
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000); // ioredis defaults would block for seconds
      const cached = await idp.mint({ sub: 'u2' }, { kid: 'rs256-1' });
      const t0 = performance.now();
      expect((await get(cached)).status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(500);
    } finally {
      await cluster.redis.start();
    }
  });
});
