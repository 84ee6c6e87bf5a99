import { createSecretKey } from 'node:crypto';
import { subjects } from '@authz/protocol';
import {
  forgeJwt,
  generateSigningKey,
  type IntrospectionServer,
  mintJwt,
  type SigningAlg,
  type SigningKey,
  signCompact,
  startCluster,
  startIntrospectionServer,
  type TestCluster,
} from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCorpus, seededBytes, until } from './support.js';

// Hostile bearer tokens (corpus/tokens.json plus 200 seeded random-byte strings) decided by a
// real worker over NATS and through the gateway: every one is a 401, never an allow, never a
// crash; the untampered controls are allowed, so the setup itself is proven.

interface SignSpec {
  key: 'hs' | 'wrong-secret' | 'rsa' | 'ec' | 'stranger' | 'rsa-public-pem' | 'ec-public-pem';
  alg: SigningAlg;
  iss: 'hs' | 'keys' | 'untrusted';
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  rawPayload?: string;
}
interface TokenSpec {
  literal?: string;
  forge?: { header: unknown; payload: unknown; signature?: string };
  sign?: SignSpec;
  mutate?: { from: 'hs' | 'rsa'; op: string; header?: unknown; payload?: unknown };
}
interface TokenCase {
  name: string;
  token: TokenSpec;
  expect: { status: number; error?: string; reason?: string };
  gateway?: { status: number };
}

const ISSUERS = {
  hs: 'https://hs.hostile.test',
  keys: 'https://keys.hostile.test',
  untrusted: 'https://evil.test',
};
const SECRET = 'hostile-token-secret-0123456789ab';
const OPAQUE_AUTH = 'Basic aG9zdGlsZTp0b2tlbnM=';
const RANDOM_SEED = 0x5eed;
const RANDOM_COUNT = 200;

const now = Math.floor(Date.now() / 1000);
const rawCorpus = readCorpus<{ cases: TokenCase[] }>('tokens.json');

describe('hostile tokens against a real worker (NATS) and the gateway (HTTP)', () => {
  let cluster: TestCluster;
  let endpoint: IntrospectionServer;
  let keys: Record<'rsa' | 'ec' | 'stranger', SigningKey>;
  let cases: TokenCase[];

  beforeAll(async () => {
    const [rsa, ec, stranger] = await Promise.all([
      generateSigningKey('RS256'),
      generateSigningKey('ES256'),
      generateSigningKey('RS256', { kid: 'evil' }),
    ]);
    keys = { rsa, ec, stranger };
    endpoint = await startIntrospectionServer({
      authorization: OPAQUE_AUTH,
      tokens: { 'opaque-active-token': { active: true, sub: 'nurse' } },
    });
    cluster = await startCluster({ workers: 1 });
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/hs',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: ISSUERS.hs, secret: SECRET } },
      ],
      [
        '/TokenIntrospector/keys',
        {
          resourceType: 'TokenIntrospector',
          type: 'jwt',
          jwt: {
            iss: ISSUERS.keys,
            keys: [
              { kty: 'RSA', alg: 'RS256', format: 'PEM', pub: rsa.publicPem },
              { kty: 'EC', alg: 'ES256', format: 'PEM', pub: ec.publicPem },
            ],
          },
        },
      ],
      [
        '/TokenIntrospector/opaque',
        {
          resourceType: 'TokenIntrospector',
          type: 'opaque',
          introspection_endpoint: { url: endpoint.url, authorization: OPAQUE_AUTH },
        },
      ],
      [
        '/AccessPolicy/jwt',
        { resourceType: 'AccessPolicy', engine: 'matcho', matcho: { jwt: { sub: 'present?' } } },
      ],
      [
        '/AccessPolicy/opaque',
        { resourceType: 'AccessPolicy', engine: 'matcho', matcho: { token: { active: true } } },
      ],
    ];
    for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);
    cases = substitute(rawCorpus.cases, stranger);
    const control = await buildToken(cases[0]!.token);
    await until('the configuration reaches the worker', async () => (await check(control)).status === 200);
  });
  afterAll(async () => {
    await cluster?.stop();
    await endpoint?.dispose();
  });

  /** Fills the run-time values into the corpus. */
  function substitute(list: TokenCase[], stranger: SigningKey): TokenCase[] {
    const text = JSON.stringify(list)
      .replaceAll('"$EXP"', String(now + 3600))
      .replaceAll('"$PAST"', String(now - 3600))
      .replaceAll('"$SOON"', String(now + 3600))
      .replaceAll('$HS_ISS', ISSUERS.hs)
      .replaceAll('"$STRANGER_JWK"', JSON.stringify(stranger.publicJwk))
      .replaceAll('"$16K"', JSON.stringify('p'.repeat(17_000)));
    return JSON.parse(text) as TokenCase[];
  }

  function signingKey(spec: SignSpec) {
    switch (spec.key) {
      case 'hs':
        return SECRET;
      case 'wrong-secret':
        return 'not-the-secret-0123456789abcdefgh';
      case 'rsa-public-pem':
        return createSecretKey(Buffer.from(keys.rsa.publicPem!));
      case 'ec-public-pem':
        return createSecretKey(Buffer.from(keys.ec.publicPem!));
      default:
        return keys[spec.key].privateKey;
    }
  }

  async function buildToken(spec: TokenSpec): Promise<string> {
    if (spec.literal !== undefined) return spec.literal;
    if (spec.forge) return forgeJwt(spec.forge);
    if (spec.sign) {
      const s = spec.sign;
      const claims = { iss: ISSUERS[s.iss], sub: 'hostile-user', iat: now, exp: now + 3600, ...s.claims };
      // null in the corpus means "leave the claim out" (mintJwt drops undefined claims, defaults absent ones).
      for (const [k, v] of Object.entries(claims))
        if (v === null) (claims as Record<string, unknown>)[k] = undefined;
      const key = signingKey(s);
      if (s.rawPayload !== undefined) {
        const secret = typeof key === 'string' ? createSecretKey(Buffer.from(key)) : key;
        return signCompact({ alg: s.alg, ...s.header }, s.rawPayload, s.alg, secret);
      }
      return mintJwt({ key, alg: s.alg, claims, header: s.header, kid: s.header?.kid as string | undefined });
    }
    const m = spec.mutate!;
    const base = await buildToken({
      sign: { key: m.from, alg: m.from === 'hs' ? 'HS256' : 'RS256', iss: m.from === 'hs' ? 'hs' : 'keys' },
    });
    return mutate(base, m);
  }

  async function check(token: string) {
    const body = { method: 'GET', uri: '/fhir/Patient', headers: { authorization: `Bearer ${token}` } };
    const msg = await cluster.nc.request(subjects().check, JSON.stringify(body), { timeout: 10_000 });
    return msg.json<{ allow: boolean; status: number; reason: string; error?: string }>();
  }

  it.each(rawCorpus.cases.map((c, i) => [c.name, i] as const))('%s', async (_name, index) => {
    const c = cases[index]!;
    const token = await buildToken(c.token);
    const reply = await check(token);
    expect(reply.status, reply.reason).toBe(c.expect.status);
    expect(reply.allow).toBe(c.expect.status === 200);
    if (c.expect.status === 401) expect(reply.error).toBe(c.expect.error ?? 'invalid_token');
    if (c.expect.reason) expect(reply.reason).toMatch(new RegExp(c.expect.reason, 'i'));
    expect(reply.reason).not.toContain(token);

    const res = await fetch(`${cluster.gatewayUrl}/fhir/Patient`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const gatewayStatus = c.gateway?.status ?? c.expect.status;
    expect(res.status).toBe(gatewayStatus);
    if (gatewayStatus === 401) {
      expect(res.headers.get('www-authenticate')).toMatch(
        new RegExp(`^Bearer .*error="${c.expect.error ?? 'invalid_token'}"`),
      );
    }
    expect(await res.text()).not.toContain(token);
  });

  it(`answers 401 to ${RANDOM_COUNT} random-byte strings (seed ${RANDOM_SEED})`, async () => {
    const random = seededBytes(RANDOM_SEED);
    const statuses = new Map<number, number>();
    for (let i = 0; i < RANDOM_COUNT; i++) {
      const token = randomToken(i, random);
      const reply = await check(token);
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      expect(
        reply.status,
        `random token #${i} (${JSON.stringify(token).slice(0, 80)}): ${reply.reason}`,
      ).toBe(401);
      expect(reply.allow).toBe(false);
      expect(['invalid_token', 'invalid_request']).toContain(reply.error);
    }
    expect(cluster.workers[0]!.child.exitCode).toBeNull();
    console.log(
      `hostile[tokens] corpus=${rawCorpus.cases.length} random=${RANDOM_COUNT} statuses=${JSON.stringify(Object.fromEntries(statuses))}`,
    );
  });
});

/** Random token #i: raw bytes as Latin-1, base64url, or JWT-shaped garbage, in turn. */
function randomToken(i: number, random: (n: number) => Buffer): string {
  const length = 1 + (random(1)[0]! % 200);
  switch (i % 4) {
    case 0:
      return random(length).toString('latin1');
    case 1:
      return random(length).toString('base64url');
    case 2:
      return [random(length), random(length), random(length)].map((b) => b.toString('base64url')).join('.');
    default:
      // A real-looking JSON header start, then garbage.
      return `eyJhbGciOiJIUzI1NiJ9.${random(length).toString('base64url')}.${random(32).toString('base64url')}`;
  }
}

function mutate(token: string, m: { op: string; header?: unknown; payload?: unknown }): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const middle = Math.floor(s.length / 2);
  switch (m.op) {
    case 'header':
      return `${enc(m.header)}.${p}.${s}`;
    case 'payload':
      return `${h}.${enc(m.payload)}.${s}`;
    case 'flip-signature':
      return `${h}.${p}.${s.slice(0, middle)}${s[middle] === 'A' ? 'B' : 'A'}${s.slice(middle + 1)}`;
    case 'truncate-signature':
      return `${h}.${p}.${s.slice(0, -3)}`;
    case 'empty-signature':
      return `${h}.${p}.`;
    case 'halve-signature':
      return `${h}.${p}.${s.slice(0, middle)}`;
    case 'drop-signature-segment':
      return `${h}.${p}`;
    case 'extra-segment':
      return `${token}.${s}`;
    case 'jwe-shape':
      return `${h}.${p}.${s}.${s}.${s}`;
    case 'header-only':
      return h;
    case 'pad-signature':
      return `${token}==`;
    case 'std-base64-signature':
      return `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`;
    default:
      throw new Error(`unknown mutation ${m.op}`);
  }
}
