import { forgeJwt, mintJwt, type TestIdp } from '@authz/test-support';
import type { LoadCase } from './load.js';

// The request mix of the chaos suite: what the cluster is configured with and, for each kind of
// request, the answer it must get when nothing is broken.

const HS_ISS = 'https://hs.chaos.test';
const HS_SECRET = 'chaos-hs-secret-0123456789abcdef';
/** `authorization` the introspection endpoint requires of workers. */
export const INTROSPECTION_AUTH = 'Basic Y2hhb3M6aW50cm9zcGVjdA==';

/** Introspectors of every kind and policies allowing GET to any verified identity. */
export function chaosResources(idp: TestIdp, introspectionUrl: string): Array<[string, unknown]> {
  return [
    [
      '/TokenIntrospector/hs',
      { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: HS_ISS, secret: HS_SECRET } },
    ],
    [
      '/TokenIntrospector/idp',
      { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: idp.url }, jwks_uri: idp.jwksUri },
    ],
    [
      '/TokenIntrospector/opaque',
      {
        resourceType: 'TokenIntrospector',
        type: 'opaque',
        introspection_endpoint: { url: introspectionUrl, authorization: INTROSPECTION_AUTH },
      },
    ],
    [
      '/AccessPolicy/jwt-readers',
      {
        resourceType: 'AccessPolicy',
        engine: 'matcho',
        matcho: { 'request-method': 'get', jwt: { sub: 'present?' } },
      },
    ],
    [
      '/AccessPolicy/opaque-readers',
      {
        resourceType: 'AccessPolicy',
        engine: 'matcho',
        matcho: { 'request-method': 'get', token: { active: true } },
      },
    ],
  ];
}

/** Rotates through a pool. */
function pool(values: readonly string[]): () => string {
  let i = 0;
  return () => values[i++ % values.length]!;
}

/**
 * The request mix: pooled valid HS256, RS256, ES256 and opaque tokens reading (200) or deleting
 * (403), and expired, forged, `alg: none`, wrong-alg and anonymous reads (401).
 */
export async function buildCases(idp: TestIdp, opaqueTokens: string[]): Promise<LoadCase[]> {
  const now = Math.floor(Date.now() / 1000);
  const hs = (claims: Record<string, unknown>, key = HS_SECRET) =>
    mintJwt({ key, alg: 'HS256', claims: { iss: HS_ISS, ...claims } });
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const bearer = (tokens: string[]) => pool(tokens.map((t) => `Bearer ${t}`));
  const hsTokens = await Promise.all(range(8).map((i) => hs({ sub: `hs-user-${i}`, exp: now + 3600 })));
  const rsTokens = await Promise.all(
    range(8).map((i) => idp.mint({ sub: `rs-user-${i}`, exp: now + 3600 }, { kid: 'rs256-1' })),
  );
  const esTokens = await Promise.all(
    range(4).map((i) => idp.mint({ sub: `es-user-${i}`, exp: now + 3600 }, { kid: 'es256-1' })),
  );
  const expired = await Promise.all(
    range(4).map((i) => hs({ sub: `old-${i}`, iat: now - 7200, exp: now - 3600 })),
  );
  const forged = await Promise.all(
    range(4).map((i) => hs({ sub: `admin-${i}`, exp: now + 3600 }, 'not-the-secret')),
  );
  const algNone = forgeJwt({
    header: { alg: 'none', typ: 'JWT' },
    payload: { iss: HS_ISS, sub: 'admin', exp: now + 3600 },
  });
  // The IdP's issuer, but signed by a key it never published: an unknown kid (rate-limited refetch).
  const stranger = await mintJwt({
    key: 'x'.repeat(32),
    alg: 'HS256',
    kid: 'rs256-1',
    claims: { iss: idp.url, sub: 'intruder', exp: now + 3600 },
  });
  const opaque = bearer(opaqueTokens);
  const read = '/fhir/Patient?_count=10';
  return [
    { name: 'hs256 read', expect: 200, method: 'GET', path: read, authorization: bearer(hsTokens) },
    { name: 'rs256 read', expect: 200, method: 'GET', path: read, authorization: bearer(rsTokens) },
    { name: 'es256 read', expect: 200, method: 'GET', path: read, authorization: bearer(esTokens) },
    { name: 'opaque read', expect: 200, method: 'GET', path: read, authorization: opaque },
    { name: 'expired hs256', expect: 401, method: 'GET', path: read, authorization: bearer(expired) },
    { name: 'forged hs256', expect: 401, method: 'GET', path: read, authorization: bearer(forged) },
    { name: 'alg none', expect: 401, method: 'GET', path: read, authorization: () => `Bearer ${algNone}` },
    {
      name: 'hs256 under a jwks kid',
      expect: 401,
      method: 'GET',
      path: read,
      authorization: () => `Bearer ${stranger}`,
    },
    { name: 'anonymous', expect: 401, method: 'GET', path: read, authorization: () => undefined },
    {
      name: 'hs256 delete',
      expect: 403,
      method: 'DELETE',
      path: '/fhir/Patient/1',
      authorization: bearer(hsTokens),
    },
    {
      name: 'rs256 delete',
      expect: 403,
      method: 'DELETE',
      path: '/fhir/Patient/1',
      authorization: bearer(rsTokens),
    },
    { name: 'opaque delete', expect: 403, method: 'DELETE', path: '/fhir/Patient/1', authorization: opaque },
  ];
}
