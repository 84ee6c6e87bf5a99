import type { TokenIntrospector } from '@authz/protocol';
import { forgeJwt, generateSigningKey, mintJwt, type SigningKey } from '@authz/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidTokenError, type VerifierErrorCode } from '../errors.js';
import { TokenVerifier } from '../verifier.js';

// A frozen clock makes the skew boundaries exact.
const NOW_S = 1_800_000_000;
const now = () => NOW_S * 1000;

const SECRET_ISS = 'https://secret.example';
const KEYS_ISS = 'https://keys.example';
const TWIN_ISS = 'https://twin.example';
const AUD_ISS = 'https://aud.example';

let rsa: SigningKey;
let ec: SigningKey;
let twinRsa: SigningKey;
let strangerRsa: SigningKey;
let verifier: TokenVerifier;

const introspector = (id: string, jwt: NonNullable<TokenIntrospector['jwt']>): TokenIntrospector => ({
  resourceType: 'TokenIntrospector',
  id,
  type: 'jwt',
  jwt,
});

beforeAll(async () => {
  [rsa, ec, twinRsa, strangerRsa] = await Promise.all([
    generateSigningKey('RS256'),
    generateSigningKey('ES256'),
    generateSigningKey('RS256'),
    generateSigningKey('RS256'),
  ]);
  verifier = new TokenVerifier({ now });
  verifier.setIntrospectors([
    introspector('secret-idp', { iss: SECRET_ISS, secret: 'very-secret' }),
    introspector('keys-idp', {
      iss: KEYS_ISS,
      keys: [
        { kty: 'RSA', alg: 'RS256', format: 'PEM', pub: rsa.publicPem },
        { kty: 'EC', alg: 'ES256', format: 'PEM', pub: ec.publicPem },
      ],
    }),
    introspector('twin-a', { iss: TWIN_ISS, secret: 'twin-secret' }),
    introspector('twin-b', {
      iss: TWIN_ISS,
      keys: [{ kty: 'RSA', alg: 'RS256', format: 'PEM', pub: twinRsa.publicPem }],
    }),
    introspector('aud-idp', { iss: AUD_ISS, secret: 'aud-secret', aud: ['api-1', 'api-2'], clock_skew: 30 }),
  ]);
});

/** A valid HS256 token of `secret-idp`, with claims overridden. */
const secretToken = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  mintJwt({
    key: 'very-secret',
    alg: 'HS256',
    header,
    claims: { iss: SECRET_ISS, iat: NOW_S, exp: NOW_S + 300, ...claims },
  });

const exp = NOW_S + 300;

/** Replaces part `index` of a compact token. */
function replacePart(token: string, index: number, part: string): string {
  const parts = token.split('.');
  parts[index] = part;
  return parts.join('.');
}

/** Changes one character in the middle of `text` (never the last, whose low bits may be unused). */
function flipMiddle(text: string): string {
  const i = Math.floor(text.length / 2);
  return text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);
}

interface HostileCase {
  name: string;
  token: () => Promise<string> | string;
  code: VerifierErrorCode;
  claim?: string;
}

const hostile: HostileCase[] = [
  // RFC 8725 §3.1: the algorithm comes from the key.
  {
    name: 'alg none',
    code: 'ERR_JWS_ALG_NOT_ALLOWED',
    token: () => forgeJwt({ header: { alg: 'none' }, payload: { iss: SECRET_ISS, exp } }),
  },
  {
    name: 'alg NONE (case variant)',
    code: 'ERR_JWS_ALG_NOT_ALLOWED',
    token: () => forgeJwt({ header: { alg: 'NONE' }, payload: { iss: SECRET_ISS, exp } }),
  },
  {
    name: 'alg none with a signature copied from a valid token',
    code: 'ERR_JWS_ALG_NOT_ALLOWED',
    token: async () =>
      forgeJwt({
        header: { alg: 'none' },
        payload: { iss: SECRET_ISS, exp },
        signature: (await secretToken()).split('.')[2],
      }),
  },
  {
    name: 'missing alg',
    code: 'ERR_JWS_ALG_NOT_ALLOWED',
    token: () => forgeJwt({ header: { typ: 'JWT' }, payload: { iss: SECRET_ISS, exp } }),
  },
  {
    name: 'unknown alg',
    code: 'ERR_JWS_ALG_NOT_ALLOWED',
    token: () => forgeJwt({ header: { alg: 'HS1' }, payload: { iss: SECRET_ISS, exp }, signature: 'AAAA' }),
  },
  {
    name: 'HS256 signed with the RSA public key PEM as secret (algorithm confusion)',
    code: 'ERR_JWS_ALG_NOT_ALLOWED',
    token: () =>
      mintJwt({ key: rsa.publicPem as string, alg: 'HS256', claims: { iss: KEYS_ISS, iat: NOW_S, exp } }),
  },
  {
    name: 'HS256 signed with the EC public key PEM as secret (algorithm confusion)',
    code: 'ERR_JWS_ALG_NOT_ALLOWED',
    token: () =>
      mintJwt({ key: ec.publicPem as string, alg: 'HS256', claims: { iss: KEYS_ISS, iat: NOW_S, exp } }),
  },
  {
    name: 'PS256 from the RSA key pinned to RS256 (alg the key is not for)',
    code: 'ERR_JWS_ALG_NOT_ALLOWED',
    token: () => mintJwt({ key: rsa.privateKey, alg: 'PS256', claims: { iss: KEYS_ISS, iat: NOW_S, exp } }),
  },
  {
    name: 'RS384 from the RSA key pinned to RS256',
    code: 'ERR_JWS_ALG_NOT_ALLOWED',
    token: () => mintJwt({ key: rsa.privateKey, alg: 'RS384', claims: { iss: KEYS_ISS, iat: NOW_S, exp } }),
  },
  {
    name: 'HS512 for an introspector whose secret is used as HS512 but signed with another secret',
    code: 'ERR_JWS_SIGNATURE_INVALID',
    token: () =>
      mintJwt({ key: 'not-the-secret', alg: 'HS512', claims: { iss: SECRET_ISS, iat: NOW_S, exp } }),
  },
  {
    name: 'ES256 header over an RSA signature',
    code: 'ERR_JWS_SIGNATURE_INVALID',
    token: async () => {
      const rs = await mintJwt({ key: rsa, claims: { iss: KEYS_ISS, iat: NOW_S, exp } });
      return replacePart(rs, 0, Buffer.from(JSON.stringify({ alg: 'ES256' })).toString('base64url'));
    },
  },
  { name: 'crit header', code: 'ERR_JWS_CRIT_UNSUPPORTED', token: () => secretToken({}, { crit: ['exp'] }) },
  {
    name: 'crit with an unknown extension',
    code: 'ERR_JWS_CRIT_UNSUPPORTED',
    token: () => secretToken({}, { crit: ['x-ext'], 'x-ext': 1 }),
  },
  { name: 'b64 false', code: 'ERR_JWS_CRIT_UNSUPPORTED', token: () => secretToken({}, { b64: false }) },
  {
    name: 'b64 false declared crit',
    code: 'ERR_JWS_CRIT_UNSUPPORTED',
    token: () => secretToken({}, { b64: false, crit: ['b64'] }),
  },
  {
    name: 'tampered header',
    code: 'ERR_JWS_SIGNATURE_INVALID',
    token: async () =>
      replacePart(
        await secretToken(),
        0,
        Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt' })).toString('base64url'),
      ),
  },
  {
    name: 'tampered payload',
    code: 'ERR_JWS_SIGNATURE_INVALID',
    token: async () =>
      replacePart(
        await secretToken(),
        1,
        Buffer.from(JSON.stringify({ iss: SECRET_ISS, exp, sub: 'admin' })).toString('base64url'),
      ),
  },
  {
    name: 'tampered signature',
    code: 'ERR_JWS_SIGNATURE_INVALID',
    token: async () => {
      const t = await secretToken();
      return replacePart(t, 2, flipMiddle(t.split('.')[2] as string));
    },
  },
  // 43 → 40 characters still decodes canonically (30 bytes): the MAC no longer matches.
  {
    name: 'truncated signature',
    code: 'ERR_JWS_SIGNATURE_INVALID',
    token: async () => (await secretToken()).slice(0, -3),
  },
  // 39 characters ending in "B" (000001): bits that belong to no byte.
  {
    name: 'signature cut mid-byte',
    code: 'ERR_TOKEN_MALFORMED',
    token: async () => `${(await secretToken()).slice(0, -5)}B`,
  },
  {
    name: 'empty signature',
    code: 'ERR_JWS_SIGNATURE_INVALID',
    token: async () => replacePart(await secretToken(), 2, ''),
  },
  {
    name: 'signature with non-canonical trailing bits',
    code: 'ERR_TOKEN_MALFORMED',
    token: async () => {
      const t = await secretToken(); // 32-byte MAC: 43 chars, the last carries 2 unused bits
      const sig = t.split('.')[2] as string;
      const last = sig.at(-1) as string;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      return replacePart(t, 2, sig.slice(0, -1) + (alphabet[alphabet.indexOf(last) ^ 1] as string));
    },
  },
  {
    name: 'signature with a non-base64url character',
    code: 'ERR_TOKEN_MALFORMED',
    token: async () => `${(await secretToken()).slice(0, -1)}*`,
  },
  {
    name: 'two segments',
    code: 'ERR_TOKEN_MALFORMED',
    token: async () => (await secretToken()).split('.').slice(0, 2).join('.'),
  },
  { name: 'four segments', code: 'ERR_TOKEN_MALFORMED', token: async () => `${await secretToken()}.AAAA` },
  {
    name: 'five segments (JWE shape)',
    code: 'ERR_TOKEN_MALFORMED',
    token: async () => `${await secretToken()}.AAAA.BBBB`,
  },
  { name: 'empty token', code: 'ERR_TOKEN_MALFORMED', token: () => '' },
  {
    name: 'header not JSON',
    code: 'ERR_TOKEN_MALFORMED',
    token: () => forgeJwt({ header: '{"alg":"HS256"', payload: { iss: SECRET_ISS, exp }, signature: 'AAAA' }),
  },
  {
    name: 'header a JSON array',
    code: 'ERR_TOKEN_MALFORMED',
    token: () => forgeJwt({ header: ['HS256'], payload: { iss: SECRET_ISS, exp }, signature: 'AAAA' }),
  },
  {
    name: 'header a JSON string',
    code: 'ERR_TOKEN_MALFORMED',
    token: () => forgeJwt({ header: '"HS256"', payload: { iss: SECRET_ISS, exp }, signature: 'AAAA' }),
  },
  {
    name: 'header JSON null',
    code: 'ERR_TOKEN_MALFORMED',
    token: () => forgeJwt({ header: 'null', payload: { iss: SECRET_ISS, exp }, signature: 'AAAA' }),
  },
  {
    name: 'payload not JSON',
    code: 'ERR_TOKEN_MALFORMED',
    token: () => forgeJwt({ header: { alg: 'HS256' }, payload: 'iss=x', signature: 'AAAA' }),
  },
  {
    name: 'payload a JSON array',
    code: 'ERR_TOKEN_MALFORMED',
    token: () => forgeJwt({ header: { alg: 'HS256' }, payload: [SECRET_ISS], signature: 'AAAA' }),
  },
  {
    name: 'payload a JSON number',
    code: 'ERR_TOKEN_MALFORMED',
    token: () => forgeJwt({ header: { alg: 'HS256' }, payload: '42', signature: 'AAAA' }),
  },
  {
    name: 'payload not base64url',
    code: 'ERR_TOKEN_MALFORMED',
    token: () => `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.e30+.AAAA`,
  },
  { name: 'kid not a string', code: 'ERR_TOKEN_MALFORMED', token: () => secretToken({}, { kid: 7 }) },
  {
    name: 'over 16 KiB (ASCII)',
    code: 'ERR_TOKEN_TOO_LARGE',
    token: () => secretToken({ pad: 'x'.repeat(16 * 1024) }),
  },
  {
    name: 'over 16 KiB of garbage (refused before parsing)',
    code: 'ERR_TOKEN_TOO_LARGE',
    token: () => '!'.repeat(16 * 1024 + 1),
  },
  {
    name: 'over 16 KiB in UTF-8 bytes though under in characters',
    code: 'ERR_TOKEN_TOO_LARGE',
    token: () => 'é'.repeat(8200),
  },
  {
    name: 'missing exp',
    code: 'ERR_JWT_CLAIM_MISSING',
    claim: 'exp',
    token: () => secretToken({ exp: undefined }),
  },
  {
    name: 'exp not a number',
    code: 'ERR_JWT_CLAIM_INVALID',
    claim: 'exp',
    token: () => secretToken({ exp: String(exp) }),
  },
  {
    name: 'exp exactly skew (60 s) ago',
    code: 'ERR_JWT_EXPIRED',
    claim: 'exp',
    token: () => secretToken({ exp: NOW_S - 60 }),
  },
  {
    name: 'nbf one second beyond the skew',
    code: 'ERR_JWT_NOT_YET_VALID',
    claim: 'nbf',
    token: () => secretToken({ nbf: NOW_S + 61 }),
  },
  {
    name: 'iat one second beyond the skew',
    code: 'ERR_JWT_ISSUED_IN_FUTURE',
    claim: 'iat',
    token: () => secretToken({ iat: NOW_S + 61 }),
  },
  {
    name: 'aud string not accepted',
    code: 'ERR_JWT_AUDIENCE_MISMATCH',
    claim: 'aud',
    token: () =>
      mintJwt({ key: 'aud-secret', alg: 'HS256', claims: { iss: AUD_ISS, iat: NOW_S, exp, aud: 'api-3' } }),
  },
  {
    name: 'aud list with no accepted member',
    code: 'ERR_JWT_AUDIENCE_MISMATCH',
    claim: 'aud',
    token: () =>
      mintJwt({
        key: 'aud-secret',
        alg: 'HS256',
        claims: { iss: AUD_ISS, iat: NOW_S, exp, aud: ['x', 'y'] },
      }),
  },
  {
    name: 'aud missing where required',
    code: 'ERR_JWT_CLAIM_MISSING',
    claim: 'aud',
    token: () => mintJwt({ key: 'aud-secret', alg: 'HS256', claims: { iss: AUD_ISS, iat: NOW_S, exp } }),
  },
  {
    name: 'aud not a string',
    code: 'ERR_JWT_CLAIM_INVALID',
    claim: 'aud',
    token: () =>
      mintJwt({ key: 'aud-secret', alg: 'HS256', claims: { iss: AUD_ISS, iat: NOW_S, exp, aud: 7 } }),
  },
  {
    name: 'aud-idp exp beyond its own 30 s skew',
    code: 'ERR_JWT_EXPIRED',
    claim: 'exp',
    token: () =>
      mintJwt({ key: 'aud-secret', alg: 'HS256', claims: { iss: AUD_ISS, exp: NOW_S - 30, aud: 'api-1' } }),
  },
  {
    name: 'issuer nobody trusts',
    code: 'ERR_TOKEN_ISSUER_UNTRUSTED',
    token: () => mintJwt({ key: 'very-secret', claims: { iss: 'https://x', iat: NOW_S, exp } }),
  },
  {
    name: 'issuer differing only by a trailing slash',
    code: 'ERR_TOKEN_ISSUER_UNTRUSTED',
    token: () => secretToken({ iss: `${SECRET_ISS}/` }),
  },
  {
    name: 'no iss',
    code: 'ERR_JWT_CLAIM_MISSING',
    claim: 'iss',
    token: () => secretToken({ iss: undefined }),
  },
  {
    name: 'twin issuer, signed by neither key',
    code: 'ERR_JWS_SIGNATURE_INVALID',
    token: () => mintJwt({ key: strangerRsa, claims: { iss: TWIN_ISS, iat: NOW_S, exp } }),
  },
  {
    name: 'twin issuer, good HS256 signature but expired (the claim error wins over the other twin)',
    code: 'ERR_JWT_EXPIRED',
    claim: 'exp',
    token: () => mintJwt({ key: 'twin-secret', alg: 'HS256', claims: { iss: TWIN_ISS, exp: NOW_S - 3600 } }),
  },
];

describe('hostile tokens', () => {
  it.each(hostile)('refuses $name with $code', async ({ token, code, claim }) => {
    const presented = await token();
    const err = await verifier.verify(presented).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidTokenError);
    const refused = err as InvalidTokenError;
    expect(refused.code).toBe(code);
    if (claim) expect(refused.claim).toBe(claim);
    // The reason is a sentence for a person, and never carries the token.
    expect(refused.message).toMatch(/^[A-Z].*\.$/s);
    if (presented.length > 20) {
      for (const part of presented.split('.').filter((p) => p.length > 20))
        expect(refused.message).not.toContain(part);
    }
  });

  it('names the untrusted issuer in the reason', async () => {
    const err = await verifier
      .verify(await mintJwt({ key: 'very-secret', claims: { iss: 'https://x', iat: NOW_S, exp } }))
      .catch((e) => e);
    expect(err.message).toContain('no TokenIntrospector trusts issuer "https://x"');
  });

  it('refuses a 16 KiB+ token even when no introspector is configured', async () => {
    const empty = new TokenVerifier({ now });
    await expect(empty.verify('a'.repeat(16 * 1024 + 1))).rejects.toMatchObject({
      code: 'ERR_TOKEN_TOO_LARGE',
    });
  });
});

describe('accepted at the boundaries', () => {
  const accepted: { name: string; token: () => Promise<string>; introspector: string }[] = [
    {
      name: 'exp 59 s ago (within the 60 s default skew)',
      introspector: 'secret-idp',
      token: () => secretToken({ exp: NOW_S - 59 }),
    },
    {
      name: 'nbf exactly at now + skew',
      introspector: 'secret-idp',
      token: () => secretToken({ nbf: NOW_S + 60 }),
    },
    {
      name: 'iat exactly at now + skew',
      introspector: 'secret-idp',
      token: () => secretToken({ iat: NOW_S + 60 }),
    },
    { name: 'a token exactly 16 KiB long', introspector: 'secret-idp', token: () => sizedToken(16 * 1024) },
    {
      name: 'aud string accepted',
      introspector: 'aud-idp',
      token: () =>
        mintJwt({ key: 'aud-secret', alg: 'HS256', claims: { iss: AUD_ISS, iat: NOW_S, exp, aud: 'api-2' } }),
    },
    {
      name: 'aud list with one accepted member',
      introspector: 'aud-idp',
      token: () =>
        mintJwt({
          key: 'aud-secret',
          alg: 'HS256',
          claims: { iss: AUD_ISS, iat: NOW_S, exp, aud: ['other', 'api-1'] },
        }),
    },
    {
      name: 'twin issuer signed with the first twin',
      introspector: 'twin-a',
      token: () => mintJwt({ key: 'twin-secret', claims: { iss: TWIN_ISS, iat: NOW_S, exp } }),
    },
    {
      name: 'twin issuer signed with the second twin',
      introspector: 'twin-b',
      token: () => mintJwt({ key: twinRsa, claims: { iss: TWIN_ISS, iat: NOW_S, exp } }),
    },
    {
      name: 'b64 true (the default, harmless)',
      introspector: 'secret-idp',
      token: () => secretToken({}, { b64: true }),
    },
    {
      name: 'an embedded jwk header is ignored, not trusted',
      introspector: 'keys-idp',
      token: () =>
        mintJwt({
          key: rsa,
          claims: { iss: KEYS_ISS, iat: NOW_S, exp },
          header: { jwk: strangerRsa.publicJwk },
        }),
    },
  ];

  it.each(accepted)('accepts $name', async ({ token, introspector }) => {
    const identity = await verifier.verify(await token());
    expect(identity).toMatchObject({ kind: 'jwt', introspector });
  });

  it('refuses a token signed by a stranger key while advertising it in the jwk header', async () => {
    const token = await mintJwt({
      key: strangerRsa,
      claims: { iss: KEYS_ISS, iat: NOW_S, exp },
      header: { jwk: strangerRsa.publicJwk },
    });
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' });
  });
});

/** A valid secret-idp token of exactly `length` characters. */
async function sizedToken(length: number): Promise<string> {
  const base = await secretToken({ pad: '' });
  // each pad character adds 4/3 base64 characters; refine until the length is exact
  for (let pad = Math.floor(((length - base.length) * 3) / 4); pad > 0; pad--) {
    const token = await secretToken({ pad: 'x'.repeat(pad) });
    if (token.length === length) return token;
    if (token.length < length) {
      for (let extra = 0; extra < 8; extra++) {
        const longer = await secretToken({ pad: 'x'.repeat(pad), p: 'y'.repeat(extra) });
        if (longer.length === length) return longer;
      }
    }
  }
  throw new Error('could not build a token of the requested size');
}
