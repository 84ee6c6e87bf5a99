import { hashToken } from '@authz/protocol';
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { exportJWK, generateKeyPair as joseKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { VerifierError } from '../errors.js';
import type { VerifiedIdentity } from '../types.js';
import { type PresentedToken, SenderConstraints, type SenderFacts } from './constraint.js';
import { MemoryReplayStore } from './replay.js';

// Proofs come from panva's `dpop` client package (and jose for the ones no client would make).
const URL_ = 'https://api.example.com/fhir/Patient';
const TOKEN = 'access-token-value';
let keys: KeyPair;
let other: KeyPair;
let jkt: string;

beforeAll(async () => {
  keys = await generateKeyPair('ES256');
  other = await generateKeyPair('ES256');
  jkt = await calculateThumbprint(keys.publicKey);
});

const identity = (cnf?: Record<string, unknown>): VerifiedIdentity => ({
  kind: 'jwt',
  introspector: 'idp',
  claims: cnf ? { sub: 'u1', cnf } : { sub: 'u1' },
});
const facts = (extra: Partial<SenderFacts> = {}): SenderFacts => ({
  method: 'GET',
  url: URL_,
  clientCertSha256: undefined,
  dpopRequired: false,
  ...extra,
});
const dpop = (proof?: string): PresentedToken => ({ scheme: 'dpop', token: TOKEN, proof });
const bearer: PresentedToken = { scheme: 'bearer', token: TOKEN };

async function outcome(result: ReturnType<SenderConstraints['check']>) {
  const err = (await result) as VerifierError | undefined;
  return err ? { code: err.code, check: (err as { check?: string }).check } : 'ok';
}

/** A proof made with jose, for shapes the dpop package refuses to make. */
async function joseProof(header: Record<string, unknown>, key: CryptoKey | Uint8Array, alg = 'ES256') {
  return new SignJWT({ htm: 'GET', htu: URL_, jti: crypto.randomUUID(), ath: hashToken(TOKEN) })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', ...header })
    .setIssuedAt()
    .sign(key);
}

describe('SenderConstraints', () => {
  it('accepts a fresh proof by the bound key, once', async () => {
    const guard = new SenderConstraints(new MemoryReplayStore());
    const proof = await generateProof(keys, URL_, 'GET', undefined, TOKEN);
    expect(await outcome(guard.check(identity({ jkt }), dpop(proof), facts()))).toBe('ok');
    expect(await outcome(guard.check(identity({ jkt }), dpop(proof), facts()))).toEqual({
      code: 'ERR_DPOP_PROOF_REPLAYED',
      check: 'jti',
    });
  });

  it('compares htu after scheme-based normalization (RFC 3986 §6.2.3)', async () => {
    const guard = new SenderConstraints(new MemoryReplayStore());
    const proof = await generateProof(
      keys,
      'HTTPS://API.example.com:443/fhir/Patient?q=1',
      'GET',
      undefined,
      TOKEN,
    );
    expect(await outcome(guard.check(identity({ jkt }), dpop(proof), facts()))).toBe('ok');
  });

  const refusals: Array<[string, () => Promise<PresentedToken>, Partial<SenderFacts>, string, string?]> = [
    [
      'a proof for another method',
      async () => dpop(await generateProof(keys, URL_, 'POST', undefined, TOKEN)),
      {},
      'ERR_DPOP_PROOF_INVALID',
      'htm',
    ],
    [
      'a proof for another URL',
      async () =>
        dpop(await generateProof(keys, 'https://api.example.com/fhir/Observation', 'GET', undefined, TOKEN)),
      {},
      'ERR_DPOP_PROOF_INVALID',
      'htu',
    ],
    [
      'a proof for another token',
      async () => dpop(await generateProof(keys, URL_, 'GET', undefined, 'other-token')),
      {},
      'ERR_DPOP_PROOF_INVALID',
      'ath',
    ],
    [
      'a proof without ath',
      async () => dpop(await generateProof(keys, URL_, 'GET')),
      {},
      'ERR_DPOP_PROOF_INVALID',
      'ath',
    ],
    [
      'a proof by another key',
      async () => dpop(await generateProof(other, URL_, 'GET', undefined, TOKEN)),
      {},
      'ERR_DPOP_PROOF_INVALID',
      'jkt',
    ],
    ['a stale proof', async () => dpop(await staleProof(-120)), {}, 'ERR_DPOP_PROOF_INVALID', 'iat'],
    ['a proof from the future', async () => dpop(await staleProof(120)), {}, 'ERR_DPOP_PROOF_INVALID', 'iat'],
    ['no proof header', async () => dpop(undefined), {}, 'ERR_DPOP_PROOF_INVALID', 'proof'],
    ['garbage as proof', async () => dpop('not.a.jwt'), {}, 'ERR_DPOP_PROOF_INVALID', 'jws'],
    [
      'an HS256 proof',
      async () =>
        dpop(
          await joseProof(
            { jwk: { kty: 'oct', k: 'c2VjcmV0' } },
            new TextEncoder().encode('secret-secret-secret-secret-32by'),
            'HS256',
          ),
        ),
      {},
      'ERR_DPOP_PROOF_INVALID',
      'alg',
    ],
    [
      'a proof carrying its private key',
      async () => dpop(await privateJwkProof()),
      {},
      'ERR_DPOP_PROOF_INVALID',
      'jwk',
    ],
    [
      'a proof typed as a plain JWT',
      async () =>
        dpop(await joseProof({ typ: 'JWT', jwk: await exportJWK(keys.publicKey) }, keys.privateKey)),
      {},
      'ERR_DPOP_PROOF_INVALID',
      'typ',
    ],
    [
      'a proof whose jwk did not sign it',
      async () => dpop(await joseProof({ jwk: await exportJWK(keys.publicKey) }, other.privateKey)),
      {},
      'ERR_DPOP_PROOF_INVALID',
      'signature',
    ],
    [
      'a jwk that is not a point of its curve',
      async () => {
        const zero = Buffer.alloc(32).toString('base64url');
        return dpop(await joseProof({ jwk: { kty: 'EC', crv: 'P-256', x: zero, y: zero } }, keys.privateKey));
      },
      {},
      'ERR_DPOP_PROOF_INVALID',
      'jwk',
    ],
    [
      // The same public key as the accepted proofs (imported and kept for ES256), named under ES384.
      'a known P-256 jwk under ES384',
      async () => {
        const p384 = await joseKeyPair('ES384');
        return dpop(await joseProof({ jwk: await exportJWK(keys.publicKey) }, p384.privateKey, 'ES384'));
      },
      {},
      'ERR_DPOP_PROOF_INVALID',
      'jwk',
    ],
    [
      'an unknown request URL',
      async () => dpop(await generateProof(keys, URL_, 'GET', undefined, TOKEN)),
      { url: undefined },
      'ERR_DPOP_PROOF_INVALID',
      'htu',
    ],
  ];

  it.each(refusals)('refuses %s', async (_name, present, extra, code, check) => {
    const guard = new SenderConstraints(new MemoryReplayStore());
    expect(await outcome(guard.check(identity({ jkt }), await present(), facts(extra)))).toEqual({
      code,
      check,
    });
  });

  it('refuses a DPoP-bound token presented as Bearer', async () => {
    const guard = new SenderConstraints(new MemoryReplayStore());
    expect(await outcome(guard.check(identity({ jkt }), bearer, facts()))).toEqual({
      code: 'ERR_TOKEN_BINDING_REQUIRED',
      check: undefined,
    });
  });

  it('refuses an unbound token when the introspector requires DPoP, and one sent with the DPoP scheme', async () => {
    const guard = new SenderConstraints(new MemoryReplayStore());
    const proof = await generateProof(keys, URL_, 'GET', undefined, TOKEN);
    expect(await outcome(guard.check(identity(), bearer, facts({ dpopRequired: true })))).toMatchObject({
      code: 'ERR_TOKEN_BINDING_REQUIRED',
    });
    expect(await outcome(guard.check(identity(), dpop(proof), facts()))).toMatchObject({
      code: 'ERR_TOKEN_BINDING_REQUIRED',
    });
    expect(guard.check(identity(), bearer, facts())).toBeUndefined();
  });

  it('checks cnf x5t#S256 against the client certificate (RFC 8705)', async () => {
    const guard = new SenderConstraints(new MemoryReplayStore());
    const x5t = 'A'.repeat(43);
    expect(
      guard.check(identity({ 'x5t#S256': x5t }), bearer, facts({ clientCertSha256: x5t })),
    ).toBeUndefined();
    expect(await outcome(guard.check(identity({ 'x5t#S256': x5t }), bearer, facts()))).toMatchObject({
      code: 'ERR_TOKEN_CERT_MISMATCH',
    });
    expect(
      await outcome(
        guard.check(identity({ 'x5t#S256': x5t }), bearer, facts({ clientCertSha256: 'B'.repeat(43) })),
      ),
    ).toMatchObject({ code: 'ERR_TOKEN_CERT_MISMATCH' });
    expect(await outcome(guard.check(identity({ jkt: 7 }), bearer, facts()))).toMatchObject({
      code: 'ERR_TOKEN_BINDING_REQUIRED',
    });
  });

  it('answers 503-class when the replay store cannot tell, never a pass', async () => {
    const guard = new SenderConstraints({
      scope: 'cluster',
      claim: () => Promise.reject(new Error('redis down')),
    });
    const proof = await generateProof(keys, URL_, 'GET', undefined, TOKEN);
    await expect(guard.check(identity({ jkt }), dpop(proof), facts())).rejects.toThrow('redis down');
    const full = new SenderConstraints(new MemoryReplayStore(1));
    expect(
      await outcome(
        full.check(
          identity({ jkt }),
          dpop(await generateProof(keys, URL_, 'GET', undefined, TOKEN)),
          facts(),
        ),
      ),
    ).toBe('ok');
    expect(await outcome(full.check(identity({ jkt }), dpop(proof), facts()))).toMatchObject({
      code: 'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE',
    });
  });
});

/** A proof made by the dpop package on a client whose clock is `offset` seconds off. */
async function staleProof(offsetSeconds: number): Promise<string> {
  const realNow = Date.now;
  Date.now = () => realNow() + offsetSeconds * 1000;
  try {
    return await generateProof(keys, URL_, 'GET', undefined, TOKEN);
  } finally {
    Date.now = realNow;
  }
}

async function privateJwkProof(): Promise<string> {
  const pair = await joseKeyPair('ES256', { extractable: true });
  return joseProof({ jwk: await exportJWK(pair.privateKey) }, pair.privateKey);
}
