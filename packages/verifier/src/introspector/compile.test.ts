import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { JwtKey, TokenIntrospector } from '@authz/protocol';
import { generateSigningKey, type SigningAlg, type SigningKey, signCompact } from '@authz/test-support';
import { importSPKI, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { IntrospectorConfigError } from '../errors.js';
import { compileIntrospector, normalizeIntrospector } from './compile.js';

let rsa: SigningKey;
let ec: SigningKey;
let ed: SigningKey;
let p384PublicPem: string;
let rsa1024PublicPem: string;
let rsa1024Private: KeyObject;

beforeAll(async () => {
  [rsa, ec, ed] = await Promise.all([
    generateSigningKey('RS256'),
    generateSigningKey('ES256'),
    generateSigningKey('EdDSA'),
  ]);
  p384PublicPem = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
  rsa1024PublicPem = small.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  rsa1024Private = small.privateKey;
});

const jwtIntrospector = (
  jwt: Record<string, unknown>,
  extra: Partial<TokenIntrospector> = {},
): TokenIntrospector =>
  ({
    resourceType: 'TokenIntrospector',
    id: 'idp',
    type: 'jwt',
    jwt: { iss: 'https://auth.example.com', ...jwt },
    ...extra,
  }) as TokenIntrospector;

const withKeys = (...keys: Partial<JwtKey>[]) => jwtIntrospector({ keys });

function issuesOf(resource: TokenIntrospector, options?: { insecureHosts?: readonly string[] }) {
  try {
    compileIntrospector(resource, options);
  } catch (err) {
    expect(err).toBeInstanceOf(IntrospectorConfigError);
    expect((err as IntrospectorConfigError).code).toBe('ERR_INTROSPECTOR_INVALID');
    return (err as IntrospectorConfigError).issues;
  }
  return [];
}

describe('compileIntrospector refuses', () => {
  const cases: {
    name: string;
    resource: () => TokenIntrospector;
    path: string;
    message: RegExp;
    insecureHosts?: string[];
  }[] = [
    {
      name: 'two key sources (secret and keys)',
      resource: () =>
        jwtIntrospector({ secret: 's', keys: [{ kty: 'OCT', alg: 'HS256', format: 'plain', k: 'k' }] }),
      path: 'jwt',
      message:
        /exactly one of jwt\.secret, jwks_uri, jwt\.keys, jwt\.discovery \(found jwt\.secret and jwt\.keys\)/,
    },
    {
      name: 'two key sources (discovery and jwks_uri)',
      resource: () => jwtIntrospector({ discovery: true }, { jwks_uri: 'https://auth.example.com/jwks' }),
      path: 'jwt',
      message: /found jwks_uri and jwt\.discovery/,
    },
    {
      name: 'a discovery document over plain http off loopback',
      resource: () => ({
        ...jwtIntrospector({ discovery: true }),
        jwt: { iss: 'http://idp.example.com/', discovery: true },
      }),
      path: 'jwt.discovery',
      message:
        /the discovery document http:\/\/idp\.example\.com\/\.well-known\/openid-configuration uses plain http/,
    },
    {
      name: 'two key sources (secret and jwks_uri)',
      resource: () => jwtIntrospector({ secret: 's' }, { jwks_uri: 'https://auth.example.com/jwks' }),
      path: 'jwt',
      message: /found jwt\.secret and jwks_uri/,
    },
    {
      name: 'no key source',
      resource: () => jwtIntrospector({}),
      path: 'jwt',
      message: /exactly one .*none is given/,
    },
    {
      name: 'a jwt introspector without jwt',
      resource: () => ({ resourceType: 'TokenIntrospector', id: 'idp', type: 'jwt' }),
      path: 'jwt',
      message: /is required for type jwt/,
    },
    {
      name: 'a missing iss',
      resource: () => ({ ...jwtIntrospector({ secret: 's' }), jwt: { secret: 's' } }) as TokenIntrospector,
      path: 'jwt.iss',
      message: /is required/,
    },
    {
      name: 'a PEM that is not base64',
      resource: () =>
        withKeys({
          kty: 'RSA',
          alg: 'RS256',
          format: 'PEM',
          pub: '-----BEGIN PUBLIC KEY-----\nnot*base64\n-----END PUBLIC KEY-----',
        }),
      path: 'jwt.keys[0].pub',
      message: /not a valid PEM public key/,
    },
    {
      name: 'a PEM whose DER does not parse',
      resource: () =>
        withKeys({
          kty: 'RSA',
          alg: 'RS256',
          format: 'PEM',
          pub: '-----BEGIN PUBLIC KEY-----\nAAAAAAAA\n-----END PUBLIC KEY-----',
        }),
      path: 'jwt.keys[0].pub',
      message: /DER content does not parse/,
    },
    {
      name: 'text that is no PEM at all',
      resource: () => withKeys({ kty: 'RSA', alg: 'RS256', format: 'PEM', pub: 'MIIBIjANBg' }),
      path: 'jwt.keys[0].pub',
      message: /not a PEM public key/,
    },
    {
      name: 'a private key PEM',
      resource: () =>
        withKeys({
          kty: 'RSA',
          alg: 'RS256',
          format: 'PEM',
          pub: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        }),
      path: 'jwt.keys[0].pub',
      message: /is a private key/,
    },
    {
      name: 'a bad PEM in the second key',
      resource: () =>
        withKeys(
          { kty: 'RSA', alg: 'RS256', format: 'PEM', pub: rsa.publicPem },
          { kty: 'EC', alg: 'ES256', format: 'PEM', pub: 'garbage' },
        ),
      path: 'jwt.keys[1].pub',
      message: /not a PEM public key/,
    },
    {
      name: 'a JWK without its modulus',
      resource: () => withKeys({ kty: 'RSA', alg: 'RS256', format: 'JWK', jwk: { kty: 'RSA', e: 'AQAB' } }),
      path: 'jwt.keys[0].jwk',
      message: /not a valid RSA public JWK/,
    },
    {
      name: 'a JWK of another kty',
      resource: () => withKeys({ kty: 'RSA', alg: 'RS256', format: 'JWK', jwk: { ...ec.publicJwk } }),
      path: 'jwt.keys[0].jwk',
      message: /has kty "EC", but the key is declared RSA/,
    },
    {
      name: 'a JWK with private material',
      resource: () =>
        withKeys({
          kty: 'EC',
          alg: 'ES256',
          format: 'JWK',
          jwk: ec.privateKey.export({ format: 'jwk' }) as Record<string, unknown>,
        }),
      path: 'jwt.keys[0].jwk',
      message: /private key material/,
    },
    {
      name: 'a JWK pinned to another alg',
      resource: () =>
        withKeys({ kty: 'EC', alg: 'ES256', format: 'JWK', jwk: { ...ec.publicJwk, alg: 'ES384' } }),
      path: 'jwt.keys[0].jwk',
      message: /pinned to ES256/,
    },
    {
      name: 'an alg of another key type',
      resource: () => withKeys({ kty: 'RSA', alg: 'ES256', format: 'PEM', pub: rsa.publicPem }),
      path: 'jwt.keys[0].alg',
      message: /ES256 is not an algorithm for a RSA key/,
    },
    {
      name: 'HMAC declared for an RSA key',
      resource: () => withKeys({ kty: 'RSA', alg: 'HS256', format: 'PEM', pub: rsa.publicPem }),
      path: 'jwt.keys[0].alg',
      message: /HS256 is not an algorithm for a RSA key/,
    },
    {
      name: 'an RSA PEM declared EC',
      resource: () => withKeys({ kty: 'EC', alg: 'ES256', format: 'PEM', pub: rsa.publicPem }),
      path: 'jwt.keys[0].pub',
      message: /ES256 needs an EC key, not an RSA key/,
    },
    {
      name: 'a P-384 key pinned to ES256',
      resource: () => withKeys({ kty: 'EC', alg: 'ES256', format: 'PEM', pub: p384PublicPem }),
      path: 'jwt.keys[0].pub',
      message: /is an EC key on P-384; ES256 needs P-256/,
    },
    {
      name: 'a 1024-bit RSA key',
      resource: () => withKeys({ kty: 'RSA', alg: 'RS256', format: 'PEM', pub: rsa1024PublicPem }),
      path: 'jwt.keys[0].pub',
      message: /1024 bits; RS256 needs at least 2048/,
    },
    {
      name: 'an Ed25519 PEM declared RSA',
      resource: () => withKeys({ kty: 'RSA', alg: 'RS256', format: 'PEM', pub: ed.publicPem }),
      path: 'jwt.keys[0].pub',
      message: /RS256 needs an RSA key/,
    },
    {
      name: 'an OCT key as PEM',
      resource: () => withKeys({ kty: 'OCT', alg: 'HS256', format: 'PEM', pub: rsa.publicPem }),
      path: 'jwt.keys[0].format',
      message: /OCT keys are shared secrets/,
    },
    {
      name: 'an RSA key as plain',
      resource: () => withKeys({ kty: 'RSA', alg: 'RS256', format: 'plain', k: 'abc' }),
      path: 'jwt.keys[0].format',
      message: /plain is for OCT secrets/,
    },
    {
      name: 'an OCT plain key without k',
      resource: () => withKeys({ kty: 'OCT', alg: 'HS256', format: 'plain' }),
      path: 'jwt.keys[0].k',
      message: /is required/,
    },
    {
      name: 'a PEM key without pub',
      resource: () => withKeys({ kty: 'RSA', alg: 'RS256', format: 'PEM' }),
      path: 'jwt.keys[0].pub',
      message: /is required for format PEM/,
    },
    {
      name: 'a plain-http jwks_uri on a public host',
      resource: () => jwtIntrospector({}, { jwks_uri: 'http://auth.example.com/jwks' }),
      path: 'jwks_uri',
      message: /plain http for auth\.example\.com: use https, or list the host in AUTHZ_INSECURE_HOSTS/,
    },
    {
      name: 'a file: jwks_uri',
      resource: () => jwtIntrospector({}, { jwks_uri: 'file:///etc/passwd' }),
      path: 'jwks_uri',
      message: /uses file/,
    },
    {
      name: 'a jwks_uri that is no URL',
      resource: () => jwtIntrospector({}, { jwks_uri: 'auth.example.com/jwks' }),
      path: 'jwks_uri',
      message: /not a valid absolute URL/,
    },
    {
      name: 'credentials in the jwks_uri',
      resource: () => jwtIntrospector({}, { jwks_uri: 'https://u:p@auth.example.com/jwks' }),
      path: 'jwks_uri',
      message: /credentials/,
    },
    {
      name: 'jwt.jwks_uri conflicting with jwks_uri',
      resource: () =>
        jwtIntrospector(
          { jwks_uri: 'https://a.example.com/jwks' },
          { jwks_uri: 'https://b.example.com/jwks' },
        ),
      path: 'jwt.jwks_uri',
      message: /differs from jwks_uri/,
    },
    {
      name: 'an opaque introspector without url',
      resource: () => ({ resourceType: 'TokenIntrospector', id: 'o', type: 'opaque' }),
      path: 'introspection_endpoint.url',
      message: /is required for type opaque/,
    },
    {
      name: 'an opaque introspector on plain http',
      resource: () => ({
        resourceType: 'TokenIntrospector',
        id: 'o',
        type: 'opaque',
        introspection_endpoint: { url: 'http://idp.example.com/introspect' },
      }),
      path: 'introspection_endpoint.url',
      message: /plain http/,
    },
    {
      name: 'an opaque introspector with a jwt secret',
      resource: () => ({
        resourceType: 'TokenIntrospector',
        id: 'o',
        type: 'opaque',
        jwt: { iss: 'x', secret: 's' },
        introspection_endpoint: { url: 'https://idp.example.com/introspect' },
      }),
      path: 'jwt.secret',
      message: /is for type jwt/,
    },
    {
      name: 'an unknown type',
      resource: () =>
        ({ resourceType: 'TokenIntrospector', id: 'x', type: 'saml' }) as unknown as TokenIntrospector,
      path: 'type',
      message: /jwt or opaque/,
    },
  ];

  it.each(cases)('$name at $path', ({ resource, path, message, insecureHosts }) => {
    const issues = issuesOf(resource(), { insecureHosts });
    expect(issues.map((i) => i.path)).toContain(path);
    expect(issues.find((i) => i.path === path)?.message).toMatch(message);
  });

  it('lists every problem at once', () => {
    const issues = issuesOf(
      withKeys(
        { kty: 'RSA', alg: 'ES256', format: 'PEM', pub: rsa.publicPem },
        { kty: 'EC', alg: 'ES256', format: 'PEM', pub: 'nope' },
        { kty: 'OCT', alg: 'HS256', format: 'plain', k: 'fine' },
      ),
    );
    expect(issues.map((i) => i.path)).toEqual(['jwt.keys[0].alg', 'jwt.keys[1].pub']);
  });

  it('names the introspector and every issue in the message', () => {
    expect(() => compileIntrospector(jwtIntrospector({}))).toThrow(/^jwt: needs exactly one/);
  });
});

describe('compileIntrospector accepts', () => {
  it('the seed jwt.keys example, each key pinned to its algorithm', async () => {
    const rsa2 = await generateSigningKey('RS384');
    const compiled = compileIntrospector(
      withKeys(
        { pub: rsa.publicPem, kty: 'RSA', alg: 'RS256', format: 'PEM' },
        { pub: rsa2.publicPem, kty: 'RSA', alg: 'RS384', format: 'PEM' },
        { pub: ec.publicPem, kty: 'EC', alg: 'ES256', format: 'PEM' },
        { k: 'oct-secret', kty: 'OCT', alg: 'HS256', format: 'plain' },
      ),
    );
    expect(compiled.type === 'jwt' && compiled.keys?.map((k) => k.alg)).toEqual([
      'RS256',
      'RS384',
      'ES256',
      'HS256',
    ]);
  });

  it('a PEM pasted on one line', () => {
    const oneLine = (rsa.publicPem as string).replace(/\n/g, ' ');
    expect(() =>
      compileIntrospector(withKeys({ kty: 'RSA', alg: 'RS256', format: 'PEM', pub: oneLine })),
    ).not.toThrow();
  });

  it('a jwt.secret as HS256, HS384 and HS512 keys', () => {
    const compiled = compileIntrospector(jwtIntrospector({ secret: 'very-secret' }));
    expect(compiled.type === 'jwt' && compiled.keys?.map((k) => k.alg)).toEqual(['HS256', 'HS384', 'HS512']);
  });

  it.each([
    ['loopback http', 'http://127.0.0.1:8080/jwks', []],
    ['localhost http', 'http://localhost/jwks', []],
    ['http for a host in AUTHZ_INSECURE_HOSTS', 'http://idp.internal/jwks', ['idp.internal']],
    ['https anywhere', 'https://auth.example.com/.well-known/jwks.json', []],
  ])('a jwks_uri over %s', (_name, uri, insecureHosts) => {
    const compiled = compileIntrospector(jwtIntrospector({}, { jwks_uri: uri, cache_ttl: 60 }), {
      insecureHosts,
    });
    expect(compiled).toMatchObject({ type: 'jwt', jwksUri: uri, cacheTtlSeconds: 60 });
  });

  it('an opaque introspector with cache_ttl defaulting to 300', () => {
    const compiled = compileIntrospector({
      resourceType: 'TokenIntrospector',
      id: 'o',
      type: 'opaque',
      introspection_endpoint: { url: 'https://idp.example.com/introspect', authorization: 'Basic abc' },
    });
    expect(compiled).toEqual({
      type: 'opaque',
      id: 'o',
      fingerprint: expect.any(String),
      opaque: {
        id: 'o',
        url: 'https://idp.example.com/introspect',
        authorization: 'Basic abc',
        cacheTtlSeconds: 300,
      },
    });
  });

  it('jwt.jwks_uri, moved to the top-level jwks_uri by normalizeIntrospector', () => {
    const resource = jwtIntrospector({ jwks_uri: 'https://auth.example.com/jwks' });
    const normalized = normalizeIntrospector(resource);
    expect(normalized.jwks_uri).toBe('https://auth.example.com/jwks');
    expect(normalized.jwt).toEqual({ iss: 'https://auth.example.com' });
    expect(resource.jwt?.jwks_uri).toBe('https://auth.example.com/jwks'); // the input is not modified
    expect(compileIntrospector(resource)).toMatchObject({ jwksUri: 'https://auth.example.com/jwks' });
  });

  it('gives equal resources equal fingerprints and changed ones different fingerprints', () => {
    const a = compileIntrospector(jwtIntrospector({ secret: 'one' }));
    const b = compileIntrospector(jwtIntrospector({ secret: 'one' }));
    const c = compileIntrospector(jwtIntrospector({ secret: 'two' }));
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.fingerprint).not.toBe(c.fingerprint);
    expect(a.fingerprint).not.toContain('one');
  });
});

describe('key rules agree with jose', () => {
  // Our synchronous import must accept exactly the keys jose imports and verifies a token with
  // (each row signs with the private half of the PEM, so only the key rules can differ).
  const table: {
    name: string;
    alg: SigningAlg;
    kty: JwtKey['kty'];
    pem: () => string;
    sign: () => KeyObject;
  }[] = [
    {
      name: 'RSA 2048 for RS256',
      alg: 'RS256',
      kty: 'RSA',
      pem: () => rsa.publicPem as string,
      sign: () => rsa.privateKey,
    },
    {
      name: 'RSA 2048 for PS512',
      alg: 'PS512',
      kty: 'RSA',
      pem: () => rsa.publicPem as string,
      sign: () => rsa.privateKey,
    },
    {
      name: 'EC P-256 for ES256',
      alg: 'ES256',
      kty: 'EC',
      pem: () => ec.publicPem as string,
      sign: () => ec.privateKey,
    },
    {
      name: 'EC P-256 for ES384',
      alg: 'ES384',
      kty: 'EC',
      pem: () => ec.publicPem as string,
      sign: () => ec.privateKey,
    },
    {
      name: 'Ed25519 for EdDSA',
      alg: 'EdDSA',
      kty: 'OKP',
      pem: () => ed.publicPem as string,
      sign: () => ed.privateKey,
    },
    {
      name: 'RSA for ES256',
      alg: 'ES256',
      kty: 'EC',
      pem: () => rsa.publicPem as string,
      sign: () => ec.privateKey,
    },
    {
      name: 'EC for EdDSA',
      alg: 'EdDSA',
      kty: 'OKP',
      pem: () => ec.publicPem as string,
      sign: () => ed.privateKey,
    },
    {
      name: 'RSA 1024 for RS256',
      alg: 'RS256',
      kty: 'RSA',
      pem: () => rsa1024PublicPem,
      sign: () => rsa1024Private,
    },
  ];

  it.each(table)('$name', async ({ alg, kty, pem, sign }) => {
    const ours = issuesOf(withKeys({ kty, alg, format: 'PEM', pub: pem() })).length === 0;
    const token = signCompact({ alg }, { exp: Math.floor(Date.now() / 1000) + 60 }, alg, sign());
    const joses = await importSPKI(pem(), alg)
      .then((key) => jwtVerify(token, key))
      .then(
        () => true,
        () => false,
      );
    expect(ours).toBe(joses);
  });
});
