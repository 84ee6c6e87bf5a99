import { hashToken, type TokenIntrospector } from '@authz/protocol';
import {
  generateSigningKey,
  type IntrospectionServer,
  mintJwt,
  type SigningAlg,
  type SigningKey,
  startIntrospectionServer,
} from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidTokenError } from './errors.js';
import type { VerifierMetrics } from './types.js';
import { TokenVerifier } from './verifier.js';

const ISS = 'https://auth.example.com';

const jwt = (
  id: string,
  body: NonNullable<TokenIntrospector['jwt']>,
  extra: Partial<TokenIntrospector> = {},
): TokenIntrospector => ({
  resourceType: 'TokenIntrospector',
  id,
  type: 'jwt',
  jwt: body,
  ...extra,
});

/** Counts token-cache lookups, to tell hits from verifications. */
function countingMetrics() {
  const counts = { hit: 0, miss: 0 };
  const metrics: VerifierMetrics = {
    cacheLookup: (tier, kind, hit) => {
      if (tier === 'memory' && kind === 'token') counts[hit ? 'hit' : 'miss']++;
    },
  };
  return { counts, metrics };
}

describe('seed scenario 1: jwt.secret', () => {
  const verifier = new TokenVerifier();
  verifier.setIntrospectors([jwt('external-auth-server', { iss: ISS, secret: 'very-secret' })]);

  it.each(['HS256', 'HS384', 'HS512'] as const)('accepts %s signed with the secret', async (alg) => {
    const token = await mintJwt({ key: 'very-secret', alg, claims: { iss: ISS, sub: 'some-user-id' } });
    await expect(verifier.verify(token)).resolves.toMatchObject({
      kind: 'jwt',
      introspector: 'external-auth-server',
      claims: { iss: ISS, sub: 'some-user-id' },
    });
  });

  it.each(['HS256', 'HS384', 'HS512'] as const)('refuses %s signed with another secret', async (alg) => {
    const token = await mintJwt({ key: 'wrong-secret', alg, claims: { iss: ISS } });
    await expect(verifier.verify(token)).rejects.toMatchObject({
      name: 'InvalidTokenError',
      code: 'ERR_JWS_SIGNATURE_INVALID',
    });
  });

  it('refuses an RS256 token for a secret introspector', async () => {
    const rsa = await generateSigningKey('RS256');
    const token = await mintJwt({ key: rsa, claims: { iss: ISS } });
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_JWS_ALG_NOT_ALLOWED' });
  });
});

describe('seed scenario 3: jwt.keys (RS256, RS384, ES256 PEM, OCT plain)', () => {
  const verifier = new TokenVerifier();
  let keys: { rs256: SigningKey; rs384: SigningKey; es256: SigningKey };
  let strangers: typeof keys;

  beforeAll(async () => {
    const make = async () => ({
      rs256: await generateSigningKey('RS256'),
      rs384: await generateSigningKey('RS384'),
      es256: await generateSigningKey('ES256'),
    });
    [keys, strangers] = await Promise.all([make(), make()]);
    verifier.setIntrospectors([
      jwt('with-keys', {
        iss: ISS,
        keys: [
          { pub: keys.rs256.publicPem, kty: 'RSA', alg: 'RS256', format: 'PEM' },
          { pub: keys.rs384.publicPem, kty: 'RSA', alg: 'RS384', format: 'PEM' },
          { pub: keys.es256.publicPem, kty: 'EC', alg: 'ES256', format: 'PEM' },
          { k: 'oct-secret', kty: 'OCT', alg: 'HS256', format: 'plain' },
        ],
      }),
    ]);
  });

  const rows = ['rs256', 'rs384', 'es256', 'oct'] as const;

  it.each(rows)('accepts a token signed with the %s key', async (name) => {
    const key = name === 'oct' ? 'oct-secret' : keys[name];
    const token = await mintJwt({ key, alg: name === 'oct' ? 'HS256' : undefined, claims: { iss: ISS } });
    await expect(verifier.verify(token)).resolves.toMatchObject({ introspector: 'with-keys' });
  });

  it.each(rows)('refuses a token signed with a wrong %s key', async (name) => {
    const key = name === 'oct' ? 'other-secret' : strangers[name];
    const token = await mintJwt({ key, alg: name === 'oct' ? 'HS256' : undefined, claims: { iss: ISS } });
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' });
  });

  it('refuses an RS384 token from the key pinned to RS256', async () => {
    const token = await mintJwt({ key: keys.rs256, alg: 'RS384', claims: { iss: ISS } });
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' });
  });
});

describe('every algorithm through jwt.keys in JWK format', () => {
  const algs: SigningAlg[] = [
    'RS256',
    'RS384',
    'RS512',
    'PS256',
    'PS384',
    'PS512',
    'ES256',
    'ES384',
    'ES512',
    'EdDSA',
  ];
  const verifier = new TokenVerifier();
  const signing = new Map<SigningAlg, SigningKey>();

  beforeAll(async () => {
    for (const alg of algs) signing.set(alg, await generateSigningKey(alg, { kid: `k-${alg}` }));
    verifier.setIntrospectors([
      jwt('jwk-keys', {
        iss: ISS,
        keys: [
          ...algs.map((alg) => {
            const key = signing.get(alg) as SigningKey;
            const kty = alg === 'EdDSA' ? 'OKP' : alg.startsWith('ES') ? 'EC' : 'RSA';
            return { kty, alg, format: 'JWK', jwk: key.publicJwk, kid: key.kid } as const;
          }),
          {
            kty: 'OCT',
            alg: 'HS384',
            format: 'JWK',
            jwk: { kty: 'oct', k: Buffer.from('oct-jwk-secret').toString('base64url') },
          },
        ],
      }),
    ]);
  });

  it.each(algs)('accepts %s', async (alg) => {
    const token = await mintJwt({ key: signing.get(alg) as SigningKey, claims: { iss: ISS } });
    await expect(verifier.verify(token)).resolves.toMatchObject({ introspector: 'jwk-keys' });
  });

  it('accepts HS384 with an oct JWK', async () => {
    const token = await mintJwt({ key: 'oct-jwk-secret', alg: 'HS384', claims: { iss: ISS } });
    await expect(verifier.verify(token)).resolves.toMatchObject({ introspector: 'jwk-keys' });
  });

  it('refuses a token whose kid names no configured key', async () => {
    const stray = await generateSigningKey('ES256', { kid: 'k-unknown' });
    const token = await mintJwt({ key: stray, claims: { iss: ISS } });
    // Only the kid-less oct key remains a candidate, and it is pinned to HS384.
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_JWS_ALG_NOT_ALLOWED' });
  });

  it('refuses a token whose kid names no key when every key has a kid', async () => {
    const es = signing.get('ES256') as SigningKey;
    const kidOnly = new TokenVerifier();
    kidOnly.setIntrospectors([
      jwt('kids', {
        iss: ISS,
        keys: [{ kty: 'EC', alg: 'ES256', format: 'JWK', jwk: es.publicJwk, kid: 'k-ES256' }],
      }),
    ]);
    const token = await mintJwt({ key: es, kid: 'k-other', claims: { iss: ISS } });
    await expect(kidOnly.verify(token)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });
});

describe('verified-token cache', () => {
  let now = 1_800_000_000_000;
  const clock = () => now;
  const NOW_S = now / 1000;

  it('answers a repeated token from memory and re-verifies after exp', async () => {
    const { counts, metrics } = countingMetrics();
    const verifier = new TokenVerifier({ now: clock, metrics });
    verifier.setIntrospectors([jwt('idp', { iss: ISS, secret: 's', clock_skew: 0 })]);
    const token = await mintJwt({ key: 's', claims: { iss: ISS, iat: NOW_S, exp: NOW_S + 10 } });
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toBe(first);
    expect(counts).toEqual({ hit: 1, miss: 1 });
    now += 10_000; // exactly exp: not served from memory, and expired with no skew
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    expect(counts).toEqual({ hit: 1, miss: 2 });
    now -= 10_000;
  });

  it("derives a cached token's form once, on its first cached use, and drops it with the entry", async () => {
    let derivations = 0;
    const verifier = new TokenVerifier({
      now: clock,
      derive: (identity) => ({ n: ++derivations, identity }),
    });
    verifier.setIntrospectors([jwt('idp', { iss: ISS, secret: 's' })]);
    const token = await mintJwt({ key: 's', claims: { iss: ISS, iat: NOW_S, exp: NOW_S + 60 } });
    const identity = await verifier.verify(token);
    expect(derivations).toBe(0); // a token seen once never pays for it
    const first = verifier.cached(token);
    expect(first?.derived).toEqual({ n: 1, identity });
    expect(verifier.cached(token)?.derived).toBe(first?.derived);
    verifier.setIntrospectors([jwt('idp', { iss: ISS, secret: 'changed' })]);
    expect(verifier.cached(token)).toBeUndefined();
    expect(derivations).toBe(1);
  });

  it('cached() answers synchronously only what verify() accepted and still trusts', async () => {
    const verifier = new TokenVerifier({ now: clock });
    const idp = jwt('idp', { iss: ISS, secret: 's', clock_skew: 0 });
    verifier.setIntrospectors([idp]);
    const token = await mintJwt({ key: 's', claims: { iss: ISS, iat: NOW_S, exp: NOW_S + 10 } });
    const forged = await mintJwt({ key: 'other', claims: { iss: ISS, iat: NOW_S, exp: NOW_S + 10 } });
    expect(verifier.cached(token)).toBeUndefined(); // never verified: no shortcut
    const identity = await verifier.verify(token);
    expect(verifier.cached(token)?.identity).toBe(identity);
    await expect(verifier.verify(forged)).rejects.toBeInstanceOf(InvalidTokenError);
    expect(verifier.cached(forged)).toBeUndefined(); // failures are not cached
    now += 10_000; // at exp
    expect(verifier.cached(token)).toBeUndefined();
    now -= 10_000;
    await verifier.verify(token);
    verifier.setIntrospectors([jwt('idp', { iss: ISS, secret: 'rotated', clock_skew: 0 })]);
    expect(verifier.cached(token)).toBeUndefined(); // introspector changed
    expect(verifier.cached('x'.repeat(16 * 1024 + 1))).toBeUndefined();
  });

  it('never caches failures', async () => {
    const { counts, metrics } = countingMetrics();
    const verifier = new TokenVerifier({ metrics });
    verifier.setIntrospectors([jwt('idp', { iss: ISS, secret: 's' })]);
    const bad = await mintJwt({ key: 'other', claims: { iss: ISS } });
    for (let i = 0; i < 3; i++) await expect(verifier.verify(bad)).rejects.toBeInstanceOf(InvalidTokenError);
    expect(counts).toEqual({ hit: 0, miss: 3 });
  });

  it('forgets tokens of a changed introspector and keeps those of an unchanged one', async () => {
    const { counts, metrics } = countingMetrics();
    const verifier = new TokenVerifier({ metrics });
    const a = jwt('a', { iss: 'https://a', secret: 'secret-a' });
    const b = jwt('b', { iss: 'https://b', secret: 'secret-b' });
    verifier.setIntrospectors([a, b]);
    const tokenA = await mintJwt({ key: 'secret-a', claims: { iss: 'https://a' } });
    const tokenB = await mintJwt({ key: 'secret-b', claims: { iss: 'https://b' } });
    await verifier.verify(tokenA);
    await verifier.verify(tokenB);
    verifier.setIntrospectors([{ ...a }, jwt('b', { iss: 'https://b', secret: 'rotated' })]);
    await expect(verifier.verify(tokenA)).resolves.toMatchObject({ introspector: 'a' });
    await expect(verifier.verify(tokenB)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' });
    expect(counts).toEqual({ hit: 1, miss: 3 });
    verifier.setIntrospectors([]);
    await expect(verifier.verify(tokenA)).rejects.toMatchObject({ code: 'ERR_TOKEN_ISSUER_UNTRUSTED' });
  });

  it('refuses a revoked token, cached or not, until the revocation is lifted', async () => {
    const verifier = new TokenVerifier();
    verifier.setIntrospectors([jwt('idp', { iss: ISS, secret: 's' })]);
    const token = await mintJwt({ key: 's', claims: { iss: ISS, sub: 'u1' } });
    const other = await mintJwt({ key: 's', claims: { iss: ISS, sub: 'u1', n: 2 } });
    await verifier.verify(token);
    const entry = { kind: 'token', token_hash: hashToken(token), revoked_at: 0, expires_at: 2e9 } as const;
    verifier.applyRevocation('token.x', entry);
    expect(verifier.cached(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    await expect(verifier.verify(other)).resolves.toMatchObject({ introspector: 'idp' });
    verifier.removeRevocation('token.x');
    await expect(verifier.verify(token)).resolves.toMatchObject({ introspector: 'idp' });
  });

  it('refuses tokens of a revoked subject issued at or before the revocation, and without iat', async () => {
    const verifier = new TokenVerifier({ now: clock });
    verifier.setIntrospectors([jwt('idp', { iss: ISS, secret: 's' })]);
    const mint = (claims: Record<string, unknown>) =>
      mintJwt({ key: 's', claims: { iss: ISS, exp: NOW_S + 600, ...claims } });
    const before = await mint({ sub: 'u1', iat: NOW_S - 5 });
    const noIat = await mint({ sub: 'u1', iat: undefined });
    const after = await mint({ sub: 'u1', iat: NOW_S + 1 });
    const otherUser = await mint({ sub: 'u2', iat: NOW_S - 5 });
    await verifier.verify(before); // cached: the revocation must sweep it
    verifier.applyRevocation('subject.x', {
      kind: 'subject',
      iss: ISS,
      sub: 'u1',
      before: NOW_S,
      revoked_at: NOW_S,
      expires_at: NOW_S + 90_000,
    });
    expect(verifier.cached(before)).toBeUndefined();
    await expect(verifier.verify(before)).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    await expect(verifier.verify(noIat)).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    await expect(verifier.verify(after)).resolves.toMatchObject({ introspector: 'idp' });
    await expect(verifier.verify(otherUser)).resolves.toMatchObject({ introspector: 'idp' });
    now += 90_001_000; // past expires_at: pruned
    verifier.pruneRevocations();
    now -= 90_001_000;
    expect(verifier.revocationCount).toBe(0);
  });

  it('refuses a token whose exp lies beyond jwt.max_lifetime, ahead of now or after iat', async () => {
    const verifier = new TokenVerifier({ now: clock });
    verifier.setIntrospectors([jwt('idp', { iss: ISS, secret: 's', max_lifetime: 3600, clock_skew: 0 })]);
    const mint = (claims: Record<string, unknown>) => mintJwt({ key: 's', claims: { iss: ISS, ...claims } });
    const eternal = await mint({ iat: NOW_S, exp: 1e308 });
    const longAfterIat = await mint({ iat: NOW_S - 3000, exp: NOW_S + 1000 });
    const fine = await mint({ iat: NOW_S, exp: NOW_S + 3600 });
    const eternal2 = await mint({ iat: undefined, exp: NOW_S + 3601 });
    await expect(verifier.verify(eternal2)).rejects.toMatchObject({ code: 'ERR_JWT_LIFETIME_EXCEEDED' });
    await expect(verifier.verify(eternal)).rejects.toMatchObject({
      code: 'ERR_JWT_LIFETIME_EXCEEDED',
      claim: 'exp',
    });
    await expect(verifier.verify(longAfterIat)).rejects.toMatchObject({ code: 'ERR_JWT_LIFETIME_EXCEEDED' });
    await expect(verifier.verify(fine)).resolves.toMatchObject({ introspector: 'idp' });
  });

  it('keeps at most maxCachedTokens, dropping the least recently used', async () => {
    const { counts, metrics } = countingMetrics();
    const verifier = new TokenVerifier({ metrics, maxCachedTokens: 2 });
    verifier.setIntrospectors([jwt('idp', { iss: ISS, secret: 's' })]);
    const tokens = await Promise.all([1, 2, 3].map((n) => mintJwt({ key: 's', claims: { iss: ISS, n } })));
    const [t1, t2, t3] = tokens as [string, string, string];
    await verifier.verify(t1);
    await verifier.verify(t2);
    await verifier.verify(t1); // hit: t1 is now the most recent
    await verifier.verify(t3); // evicts t2
    await verifier.verify(t1); // hit
    await verifier.verify(t2); // miss again
    expect(counts).toEqual({ hit: 2, miss: 4 });
  });

  it('skips an invalid introspector and keeps the valid ones', async () => {
    const warnings: object[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (obj: object) => void warnings.push(obj) };
    const verifier = new TokenVerifier({ logger });
    verifier.setIntrospectors([jwt('broken', { iss: 'https://x' }), jwt('good', { iss: ISS, secret: 's' })]);
    await expect(verifier.verify(await mintJwt({ key: 's', claims: { iss: ISS } }))).resolves.toMatchObject({
      introspector: 'good',
    });
    expect(warnings).toEqual([
      { introspector: 'broken', issues: [expect.objectContaining({ path: 'jwt' })] },
    ]);
    expect(JSON.stringify(warnings)).not.toContain('"s"');
  });
});

describe('opaque delegation', () => {
  let endpoint: IntrospectionServer;
  const verifier = new TokenVerifier();

  beforeAll(async () => {
    endpoint = await startIntrospectionServer({ tokens: { 'opaque-token-1': { active: true, sub: 'u1' } } });
    verifier.setIntrospectors([
      jwt('jwt-idp', { iss: ISS, secret: 's' }),
      {
        resourceType: 'TokenIntrospector',
        id: 'opaque-idp',
        type: 'opaque',
        introspection_endpoint: { url: endpoint.url },
      },
    ]);
  });
  afterAll(() => endpoint.dispose());

  it('introspects a token that is not a JWT', async () => {
    await expect(verifier.verify('opaque-token-1')).resolves.toMatchObject({
      kind: 'opaque',
      introspector: 'opaque-idp',
      claims: { sub: 'u1' },
    });
  });

  it('never sends a JWT whose issuer no introspector trusts to an opaque endpoint', async () => {
    const token = await mintJwt({ key: 'k', claims: { iss: 'https://elsewhere' } });
    endpoint.setToken(token, { active: true, sub: 'u2' });
    await expect(verifier.verify(token)).rejects.toMatchObject({
      code: 'ERR_TOKEN_ISSUER_UNTRUSTED',
      message: expect.stringContaining('"https://elsewhere"'),
    });
    expect(endpoint.calls(token)).toBe(0);
  });

  it('introspects a JWT of an issuer listed in introspection_endpoint.jwt_issuers', async () => {
    const routed = new TokenVerifier();
    routed.setIntrospectors([
      {
        resourceType: 'TokenIntrospector',
        id: 'opaque-idp',
        type: 'opaque',
        introspection_endpoint: { url: endpoint.url, jwt_issuers: ['https://keycloak.example'] },
      },
    ]);
    const token = await mintJwt({ key: 'k', claims: { iss: 'https://keycloak.example' } });
    endpoint.setToken(token, { active: true, sub: 'u3' });
    await expect(routed.verify(token)).resolves.toMatchObject({ kind: 'opaque', claims: { sub: 'u3' } });
    expect(endpoint.calls(token)).toBe(1);
    routed.close();
  });

  it('never introspects a JWT of a trusted issuer that fails', async () => {
    const token = await mintJwt({ key: 'wrong', claims: { iss: ISS } });
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' });
    expect(endpoint.calls(token)).toBe(0);
  });

  it('refuses an unknown opaque token as inactive', async () => {
    await expect(verifier.verify('never-issued')).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('refuses a non-JWT as malformed when no opaque introspector exists', async () => {
    const jwtOnly = new TokenVerifier();
    jwtOnly.setIntrospectors([jwt('jwt-idp', { iss: ISS, secret: 's' })]);
    await expect(jwtOnly.verify('opaque-token-1')).rejects.toMatchObject({ code: 'ERR_TOKEN_MALFORMED' });
  });
});
