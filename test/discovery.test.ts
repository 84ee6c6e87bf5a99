import { startCluster, startIdp, type TestCluster, type TestIdp } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// OIDC discovery (DESIGN §14): an introspector names only `jwt.iss` and `jwt.discovery: true`;
// the worker reads the IdP's /.well-known/openid-configuration and uses the jwks_uri it names,
// with the test IdP standing in for the authorization server (loopback http is allowed).

const COOLDOWN_MS = 400;

describe('OIDC discovery end to end: iss + discovery, issuer mismatch, key rotation', () => {
  let cluster: TestCluster;
  let idp: TestIdp;
  let liar: TestIdp;

  const get = (token: string) =>
    fetch(`${cluster.gatewayUrl}/fhir/Patient`, { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    [idp, liar] = await Promise.all([startIdp(), startIdp({ algs: ['ES256'] })]);
    // The liar's document names another issuer than the one it is reached by.
    liar.setDiscoveryIssuer('https://someone-else.example.com');
    cluster = await startCluster({
      workers: 2,
      env: { AUTHZ_JWKS_REFETCH_COOLDOWN_MS: String(COOLDOWN_MS) },
    });
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/discovered',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: idp.url, discovery: true } },
      ],
      [
        '/TokenIntrospector/liar',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: liar.url, discovery: true } },
      ],
      [
        '/AccessPolicy/any-token',
        {
          resourceType: 'AccessPolicy',
          engine: 'json-schema',
          schema: { required: ['jwt'], properties: { jwt: { required: ['sub'] } } },
        },
      ],
    ];
    for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);
    const token = await idp.mint({ sub: 'u1' }, { kid: 'rs256-1' });
    const deadline = Date.now() + 10_000;
    while ((await get(token)).status !== 200) {
      if (Date.now() > deadline) throw new Error('the discovered introspector never became usable');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    await cluster?.stop();
    await Promise.all([idp?.dispose(), liar?.dispose()]);
  });

  it.each(['rs256-1', 'es256-1'])('passes a token signed with the discovered key %s', async (kid) => {
    const res = await get(await idp.mint({ sub: 'u1' }, { kid }));
    expect(res.status).toBe(200);
    expect(idp.discoveryFetches).toBeGreaterThan(0);
  });

  it('a document naming another issuer is a 503 with that reason, never an allow', async () => {
    const res = await get(await liar.mint({ sub: 'u1' }));
    expect(res.status).toBe(503);
    const reason = ((await res.json()) as { issue: Array<{ diagnostics: string }> }).issue[0]!.diagnostics;
    expect(reason).toContain(
      `the discovery document at ${liar.url}/.well-known/openid-configuration names issuer "https://someone-else.example.com", not "${liar.url}"`,
    );
  });

  it('follows key rotation through the discovered jwks_uri (unknown kid → refetch)', async () => {
    const rotated = await idp.addKey('ES256', 'rotated-1');
    idp.resetFetches();
    const res = await get(await idp.mint({ sub: 'u1' }, { kid: rotated.kid }));
    expect(res.status).toBe(200);
    expect(idp.fetches).toBeGreaterThanOrEqual(1);
    idp.removeKey('rotated-1');
  });

  it('refuses at PUT an introspector with two key sources or a non-boolean discovery', async () => {
    const both = await cluster.admin('PUT', '/TokenIntrospector/both', {
      resourceType: 'TokenIntrospector',
      type: 'jwt',
      jwt: { iss: idp.url, discovery: true, secret: 'a-long-enough-shared-secret-for-hs256!' },
    });
    expect(both.status).toBe(422);
    expect(JSON.stringify(await both.json())).toContain(
      'needs exactly one of jwt.secret, jwks_uri, jwt.keys, jwt.discovery (found jwt.secret and jwt.discovery)',
    );
    const plainHttp = await cluster.admin('PUT', '/TokenIntrospector/plain', {
      resourceType: 'TokenIntrospector',
      type: 'jwt',
      jwt: { iss: 'http://idp.example.com', discovery: true },
    });
    expect(plainHttp.status).toBe(422);
    expect(JSON.stringify(await plainHttp.json())).toContain('jwt.discovery');
  });
});
