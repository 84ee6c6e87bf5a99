import { hashToken } from '@authz/protocol';
import {
  type IntrospectionServer,
  startCluster,
  startIdp,
  startIntrospectionServer,
  type TestCluster,
  type TestIdp,
} from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// DESIGN §11 "tokens go only where they belong", against real workers, gateway, NATS, Redis and
// two RFC 7662 endpoints that record every token they receive (as its hash): with prefixes a- and
// b-, IdP b never sees an a- token even though it would claim it; a JWT whose iss nobody trusts
// (a typo) reaches neither endpoint unless an introspector lists that issuer in jwt_issuers.

const A_TOKEN = 'a-7f3e9c21-token';
const B_TOKEN = 'b-41d8aa0e-token';

describe('token routing between identity providers (issue 13)', () => {
  let cluster: TestCluster;
  let idp: TestIdp;
  let idpA: IntrospectionServer;
  let idpB: IntrospectionServer;

  beforeAll(async () => {
    idp = await startIdp();
    idpA = await startIntrospectionServer({ tokens: { [A_TOKEN]: { active: true, sub: 'alice-at-a' } } });
    // IdP b would happily claim IdP a's token with an identity of its own.
    idpB = await startIntrospectionServer({
      tokens: {
        [B_TOKEN]: { active: true, sub: 'bob-at-b' },
        [A_TOKEN]: { active: true, sub: 'admin-claimed-by-b' },
      },
    });
    cluster = await startCluster({ workers: 2 });
    const put = async (path: string, body: unknown) =>
      expect((await cluster.admin('PUT', path, body)).status).toBe(201);
    await put('/TokenIntrospector/idp', { type: 'jwt', jwt: { iss: idp.url }, jwks_uri: idp.jwksUri });
    // "a-b" sorts before "idp-a": in id order b would be asked first and win without routing.
    await put('/TokenIntrospector/a-b', {
      type: 'opaque',
      introspection_endpoint: { url: idpB.url, token_prefix: 'b-' },
    });
    await put('/TokenIntrospector/idp-a', {
      type: 'opaque',
      introspection_endpoint: { url: idpA.url, token_prefix: 'a-' },
    });
    await put('/AccessPolicy/authenticated', { engine: 'matcho', matcho: { 'request-method': 'get' } });
    // Every worker has the whole configuration: 10 answers in a row through the gateway pass.
    let streak = 0;
    await within(10_000, async () => {
      streak = (await get(B_TOKEN)).status === 200 ? streak + 1 : 0;
      return streak >= 10;
    });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await idp?.dispose();
    await idpA?.dispose();
    await idpB?.dispose();
  });

  const get = async (token: string) => {
    const res = await fetch(`${cluster.gatewayUrl}/fhir/Patient`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '' };
  };
  const check = async (token: string) => {
    const res = await cluster.admin('POST', '/$check', {
      method: 'GET',
      uri: '/fhir/Patient',
      headers: { authorization: `Bearer ${token}` },
    });
    return (await res.json()) as { status: number; reason: string; identity?: { sub?: string } };
  };
  const received = (server: IntrospectionServer, token: string) =>
    server.requests.filter((r) => r.tokenHash === hashToken(token)).length;
  const within = async (ms: number, probe: () => Promise<boolean>) => {
    const start = Date.now();
    while (!(await probe())) {
      if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('sends an a- token only to IdP a: IdP b never receives it, so it cannot claim it', async () => {
    for (let i = 0; i < 10; i++) expect((await get(A_TOKEN)).status).toBe(200);
    const explained = JSON.stringify(await check(A_TOKEN));
    expect(explained).not.toContain('admin-claimed-by-b');
    expect(received(idpA, A_TOKEN)).toBeGreaterThan(0);
    expect(received(idpB, A_TOKEN)).toBe(0);
    expect(received(idpA, B_TOKEN)).toBe(0);
    expect(received(idpB, B_TOKEN)).toBeGreaterThan(0);
  });

  it('refuses a token of no configured prefix without sending it anywhere', async () => {
    const stray = 'c-never-issued-token';
    const refused = await get(stray);
    expect(refused.status).toBe(401);
    expect(refused.challenge).toContain('token_prefix');
    expect(received(idpA, stray) + received(idpB, stray)).toBe(0);
  });

  it("refuses a JWT with a typo'd iss naming the issuer, and sends it to neither endpoint", async () => {
    const typo = `${idp.url}/typo`;
    const token = await idp.mint({ iss: typo, sub: 'u-typo' });
    const refused = await get(token);
    expect(refused.status).toBe(401);
    expect(refused.challenge).toMatch(/error="invalid_token"/);
    expect(refused.challenge).toContain(`no TokenIntrospector trusts issuer`);
    expect((await check(token)).reason).toContain(JSON.stringify(typo));
    expect(received(idpA, token)).toBe(0);
    expect(received(idpB, token)).toBe(0);
  });

  it('sends such a JWT to the one introspector that lists its issuer in jwt_issuers, and only there', async () => {
    const other = 'https://keycloak.example/realms/a';
    const token = await idp.mint({ iss: other, sub: 'u-kc' });
    idpA.setToken(token, { active: true, sub: 'u-kc' });
    idpB.setToken(token, { active: true, sub: 'claimed-by-b' });
    const replaced = await cluster.admin('PUT', '/TokenIntrospector/idp-a', {
      type: 'opaque',
      introspection_endpoint: { url: idpA.url, token_prefix: 'a-', jwt_issuers: [other] },
    });
    expect(replaced.status).toBe(200);
    await within(10_000, async () => (await get(token)).status === 200);
    expect(received(idpA, token)).toBeGreaterThan(0);
    expect(received(idpB, token)).toBe(0);
  });
});
