import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenIntrospector } from '@authz/protocol';
import { connectRedis, createLogger, type Redis } from '@authz/runtime';
import { mintJwt, startIdp, startRedis, type TestIdp, type TestServer } from '@authz/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSharedCache } from '../cache/shared-cache.js';
import { InvalidTokenError, VerifierUnavailableError } from '../errors.js';
import type { TokenVerifierOptions, VerifierLogger } from '../types.js';
import { TokenVerifier } from '../verifier.js';
import { KeySourceError } from './failure.js';

const silent = createLogger('test', 'silent');

let redisServer: TestServer;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  redisServer = await startRedis();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => redisServer?.dispose());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); await sleep(10)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/**
 * A fail-fast ioredis client (the worker's own options) on `server`, ready. Coordination tests
 * use a longer command timeout: on a loaded test machine a 50 ms reply can be late, and the
 * verifier then (correctly) works without Redis, which is not what they measure.
 */
async function redisClient(server: TestServer = redisServer, timeoutMs = 1000): Promise<Redis> {
  const redis = connectRedis(server.url, silent, timeoutMs);
  cleanups.push(() => redis.disconnect());
  await until(() => redis.status === 'ready', 'redis ready');
  return redis;
}

async function idp(): Promise<TestIdp> {
  const started = await startIdp();
  cleanups.push(() => started.dispose());
  return started;
}

const introspectorFor = (server: TestIdp, extra: Partial<TokenIntrospector> = {}): TokenIntrospector => ({
  resourceType: 'TokenIntrospector',
  id: 'external-auth-server',
  type: 'jwt',
  jwt: { iss: server.url },
  jwks_uri: server.jwksUri,
  ...extra,
});

function verifierFor(
  server: TestIdp,
  options: TokenVerifierOptions = {},
  extra: Partial<TokenIntrospector> = {},
) {
  const verifier = new TokenVerifier({ fetchTimeoutMs: 2000, jwksRefetchCooldownMs: 400, ...options });
  cleanups.push(() => verifier.close());
  verifier.setIntrospectors([introspectorFor(server, extra)]);
  return verifier;
}

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: unknown) => err as Error & { code?: string },
  );

describe('seed scenario 2: jwks_uri', () => {
  it('accepts RS256 and ES256 tokens of the IdP, fetching the key set once (prefetched)', async () => {
    const server = await idp();
    const verifier = verifierFor(server);
    await until(() => server.fetches === 1, 'prefetch');
    for (const kid of ['rs256-1', 'es256-1']) {
      await expect(verifier.verify(await server.mint({ sub: 'u1' }, { kid }))).resolves.toMatchObject({
        kind: 'jwt',
        introspector: 'external-auth-server',
      });
    }
    expect(server.fetches).toBe(1);
  });

  it('accepts the Aidbox jwt.jwks_uri spelling', async () => {
    const server = await idp();
    const verifier = new TokenVerifier();
    cleanups.push(() => verifier.close());
    verifier.setIntrospectors([
      {
        resourceType: 'TokenIntrospector',
        id: 'nested',
        type: 'jwt',
        jwt: { iss: server.url, jwks_uri: server.jwksUri },
      },
    ]);
    await expect(verifier.verify(await server.mint())).resolves.toMatchObject({ introspector: 'nested' });
  });

  it('tries every key of the right type for a token without kid', async () => {
    const server = await idp();
    const second = await server.addKey('RS256');
    const verifier = verifierFor(server);
    const token = await mintJwt({ key: second, header: { kid: undefined }, claims: { iss: server.url } });
    await expect(verifier.verify(token)).resolves.toMatchObject({ introspector: 'external-auth-server' });
  });

  it('refuses a bad signature under a known kid, and an alg the kid is not for', async () => {
    const server = await idp();
    const verifier = verifierFor(server);
    const forged = await mintJwt({
      key: (await strangerKey()).key,
      kid: 'rs256-1',
      claims: { iss: server.url },
    });
    expect(await errorOf(verifier.verify(forged))).toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' });
    const wrongAlg = await mintJwt({ key: server.keys[0]!, alg: 'PS256', claims: { iss: server.url } });
    expect(await errorOf(verifier.verify(wrongAlg))).toMatchObject({ code: 'ERR_JWS_ALG_NOT_ALLOWED' });
    const confused = await mintJwt({
      key: server.keys[0]!.publicPem!,
      alg: 'HS256',
      kid: 'rs256-1',
      claims: { iss: server.url },
    });
    expect(await errorOf(verifier.verify(confused))).toMatchObject({ code: 'ERR_JWS_ALG_NOT_ALLOWED' });
  });

  it('skips malformed keys in the JWKS document and keeps the good ones', async () => {
    const server = await idp();
    const stranger = await strangerKey();
    server.setExtraEntries([
      'not-an-object',
      { kty: 'RSA', kid: 'bad-rsa', n: '!!!', e: 'AQAB' },
      { kty: 'EC', kid: 'bad-ec', crv: 'P-256', x: 'AAAA', y: 'AAAA' },
      { kty: 'oct', kid: 'sym', k: Buffer.from('secret').toString('base64url') },
      { ...stranger.privateJwk, kid: 'private' },
      { kty: 'RSA', kid: 'enc', use: 'enc', n: stranger.publicJwk.n, e: 'AQAB' },
      { kty: 'EC', kid: 'weird-curve', crv: 'P-192', x: 'AAAA', y: 'AAAA' },
    ]);
    const warnings: { obj: object; msg?: string }[] = [];
    const logger: VerifierLogger = {
      debug() {},
      info() {},
      error() {},
      warn: (obj, msg) => void warnings.push({ obj, msg }),
    };
    const verifier = verifierFor(server, { logger });
    await expect(verifier.verify(await server.mint({}, { kid: 'rs256-1' }))).resolves.toBeDefined();
    await expect(verifier.verify(await server.mint({}, { kid: 'es256-1' }))).resolves.toBeDefined();
    const sym = await mintJwt({ key: 'secret', alg: 'HS256', kid: 'sym', claims: { iss: server.url } });
    expect(await errorOf(verifier.verify(sym))).toMatchObject({
      name: 'InvalidTokenError',
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    const skipped = warnings.find((w) => w.msg === 'skipped unusable keys in a JWKS document');
    expect(skipped?.obj).toMatchObject({ skipped: expect.any(Array) });
    expect((skipped?.obj as { skipped: string[] } | undefined)?.skipped).toHaveLength(7);
    expect(JSON.stringify(warnings)).not.toContain(stranger.privateJwk.d);
  });

  it('answers 503 when the document holds no usable key', async () => {
    const server = await idp();
    const token = await server.mint();
    for (const key of [...server.keys]) server.removeKey(key.kid as string);
    server.setExtraEntries([{ kty: 'RSA', kid: 'bad', n: '!!!', e: 'AQAB' }]);
    const verifier = verifierFor(server);
    const err = await errorOf(verifier.verify(token));
    expect(err).toBeInstanceOf(VerifierUnavailableError);
    expect(err).toMatchObject({ code: 'ERR_KEY_SOURCE_UNAVAILABLE' });
    expect(err?.message).toContain('holds no usable signing key');
  });
});

describe('the origin misbehaving', () => {
  /** An origin that redirects, sends an oversized document, or never answers. */
  async function badOrigin(target: string) {
    const server = createServer((req, res) => {
      if (req.url === '/redirect') res.writeHead(302, { location: target }).end();
      else if (req.url === '/big')
        res.writeHead(200).end(JSON.stringify({ keys: [], pad: 'x'.repeat(300 * 1024) }));
      else if (req.url === '/not-json') res.writeHead(200).end('<html>');
      // '/slow' never answers
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(resolve);
        }),
    );
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it.each([
    ['a redirect (never followed)', '/redirect', /answered HTTP 302/, 'http-status'],
    ['a document over 256 KiB', '/big', /exceeds 262144 bytes/, 'unreachable'],
    ['a body that is not JSON', '/not-json', /not JSON/, 'unusable-document'],
    ['no answer within the fetch timeout', '/slow', /no answer from .* within 300 ms/, 'unreachable'],
  ])('answers 503 for %s', async (_name, path, reason, code) => {
    const server = await idp();
    const origin = await badOrigin(server.jwksUri);
    const verifier = verifierFor(server, { fetchTimeoutMs: 300 }, { jwks_uri: `${origin}${path}` });
    const err = await errorOf(verifier.verify(await server.mint()));
    expect(err).toBeInstanceOf(VerifierUnavailableError);
    expect(err?.message).toMatch(reason);
    // The key-source failure travels as the cause, with its own stable code.
    expect(err?.cause).toBeInstanceOf(KeySourceError);
    expect(err?.cause).toMatchObject({ code });
    expect(server.fetches).toBe(0);
  });
});

describe('cache_ttl', () => {
  it('refreshes the key set once it is older than cache_ttl, so a key the IdP dropped stops verifying', async () => {
    const server = await idp();
    let now = Date.now();
    const verifier = verifierFor(server, { now: () => now }, { cache_ttl: 60 });
    const exp = Math.floor(now / 1000) + 3600;
    await expect(verifier.verify(await server.mint({ exp }, { kid: 'es256-1' }))).resolves.toBeDefined();
    const dropped = await server.mint({ exp, n: 1 }, { kid: 'es256-1' });
    const beforeTtl = await server.mint({ exp, n: 2 }, { kid: 'es256-1' });
    server.removeKey('es256-1');
    now += 59_000;
    await expect(verifier.verify(beforeTtl)).resolves.toBeDefined();
    expect(server.fetches).toBe(1);
    now += 2_000; // past cache_ttl: served once more while the refresh runs in the background
    await verifier.verify(await server.mint({ exp, n: 3 }, { kid: 'rs256-1' }));
    await until(() => server.fetches === 2, 'the background refresh');
    await sleep(20);
    expect(await errorOf(verifier.verify(dropped))).toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });
});

describe('key rotation and the unknown-kid refetch', () => {
  it('accepts the first token signed with a newly added key', async () => {
    const server = await idp();
    const verifier = verifierFor(server, { sharedCache: new RedisSharedCache(await redisClient()) });
    await verifier.verify(await server.mint());
    const rotated = await server.addKey('RS256');
    await expect(verifier.verify(await server.mint({}, { kid: rotated.kid }))).resolves.toBeDefined();
    expect(server.fetches).toBe(2);
  });

  it('makes exactly one fetch for 50 concurrent first requests across 2 verifiers sharing Redis', async () => {
    const server = await idp();
    const a = verifierFor(server, { sharedCache: new RedisSharedCache(await redisClient()) });
    const b = verifierFor(server, { sharedCache: new RedisSharedCache(await redisClient()) });
    await a.verify(await server.mint());
    await b.verify(await server.mint());
    const rotated = await server.addKey('ES256');
    server.resetFetches();
    server.setDelay(50); // the fetch is in flight while every request arrives
    const tokens = await Promise.all(
      Array.from({ length: 50 }, (_, jti) => server.mint({ jti }, { kid: rotated.kid })),
    );
    const results = await Promise.all(tokens.map((token, i) => (i % 2 === 0 ? a : b).verify(token)));
    expect(results.map((r) => r.introspector)).toEqual(Array(50).fill('external-auth-server'));
    expect(server.fetches).toBe(1);
  });

  it("stops waiting for another verifier's refetch when closed", async () => {
    const server = await idp();
    const options = { jwksRefetchCooldownMs: 60_000, fetchTimeoutMs: 8000 };
    const a = verifierFor(server, { ...options, sharedCache: new RedisSharedCache(await redisClient()) });
    const b = verifierFor(server, { ...options, sharedCache: new RedisSharedCache(await redisClient()) });
    await a.verify(await server.mint());
    await b.verify(await server.mint());
    const rotated = await server.addKey('RS256');
    server.setDelay(5000); // a holds the cluster's refetch lock this long
    const token = await server.mint({}, { kid: rotated.kid });
    const holder = a.verify(token);
    await sleep(100);
    const waiter = errorOf(b.verify(token)); // waits on a's refetch
    await sleep(100);
    const closedAt = performance.now();
    b.close();
    expect(await waiter).toBeInstanceOf(VerifierUnavailableError);
    // Not the ≥ 4.8 s a wait for a's refetch would take; wide enough for a starved CI box.
    expect(performance.now() - closedAt).toBeLessThan(2500);
    server.setDelay(0);
    await expect(holder).resolves.toBeDefined();
  });

  it('refuses a kid still unknown after the refetch, and refetches at most once per cooldown cluster-wide', async () => {
    const server = await idp();
    const a = verifierFor(server, {
      sharedCache: new RedisSharedCache(await redisClient()),
      jwksRefetchCooldownMs: 60_000,
    });
    await a.verify(await server.mint());
    const b = verifierFor(server, {
      sharedCache: new RedisSharedCache(await redisClient()),
      jwksRefetchCooldownMs: 60_000,
    });
    await b.verify(await server.mint());
    expect(server.fetches).toBe(1); // b took a's set from Redis
    const stranger = await strangerKey();
    const token = (kid: string) => mintJwt({ key: stranger.key, kid, claims: { iss: server.url } });
    const first = await errorOf(a.verify(await token('ghost-1')));
    expect(first).toBeInstanceOf(InvalidTokenError);
    expect(first).toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(first?.message).toContain(
      '"ghost-1" is not in the key set of TokenIntrospector/external-auth-server',
    );
    expect(server.fetches).toBe(2);
    expect(await errorOf(a.verify(await token('ghost-2')))).toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    expect(await errorOf(b.verify(await token('ghost-3')))).toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    expect(server.fetches).toBe(2);
  });
});

describe('the IdP down', () => {
  it('keeps accepting cached keys, answers 503 for an unknown kid, and recovers when the IdP is back', async () => {
    const server = await idp();
    const verifier = verifierFor(server, { sharedCache: new RedisSharedCache(await redisClient()) });
    await verifier.verify(await server.mint({ n: 0 }));
    const rotated = await server.addKey('RS256'); // published only once the IdP is back
    const rotatedToken = await server.mint({}, { kid: rotated.kid });
    await server.stop();
    await expect(verifier.verify(await server.mint({ n: 1 }, { kid: 'rs256-1' }))).resolves.toBeDefined();
    await expect(verifier.verify(await server.mint({ n: 2 }, { kid: 'es256-1' }))).resolves.toBeDefined();
    const down = await errorOf(verifier.verify(rotatedToken));
    expect(down).toBeInstanceOf(VerifierUnavailableError);
    expect(down).toMatchObject({ code: 'ERR_KEY_SOURCE_UNAVAILABLE', introspector: 'external-auth-server' });
    expect(down?.message).toMatch(/could not be reached to refresh it .*; try again later\.$/);
    await server.start();
    await sleep(450); // one refetch cooldown
    await expect(verifier.verify(rotatedToken)).resolves.toMatchObject({
      introspector: 'external-auth-server',
    });
  });

  it('answers 503 at once on a second verifier after another one failed to refetch', async () => {
    const server = await idp();
    const options = { jwksRefetchCooldownMs: 60_000, fetchTimeoutMs: 1500 };
    const a = verifierFor(server, { ...options, sharedCache: new RedisSharedCache(await redisClient()) });
    await a.verify(await server.mint());
    const b = verifierFor(server, { ...options, sharedCache: new RedisSharedCache(await redisClient()) });
    await b.verify(await server.mint());
    const rotated = await server.addKey('RS256');
    await server.stop();
    expect(await errorOf(a.verify(await server.mint({ n: 1 }, { kid: rotated.kid })))).toBeInstanceOf(
      VerifierUnavailableError,
    );
    const started = performance.now();
    const err = await errorOf(b.verify(await server.mint({ n: 2 }, { kid: rotated.kid })));
    expect(err).toBeInstanceOf(VerifierUnavailableError);
    // a's failure, as stored in Redis, is the cause: its code and when it happened.
    expect(err?.cause).toBeInstanceOf(KeySourceError);
    expect(err?.cause).toMatchObject({
      code: 'unreachable',
      cause: { code: 'unreachable', at: expect.any(Number) },
    });
    // a's recorded failure is read: no wait for a fetch (1.5 s timeout), with room for a loaded box.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('serves stale keys past cache_ttl while the IdP is down, within the staleness bound', async () => {
    const server = await idp();
    let now = Date.now();
    let stale = 0;
    const verifier = verifierFor(
      server,
      { now: () => now, maxStaleSeconds: 600, metrics: { staleKeysServed: () => void stale++ } },
      { cache_ttl: 60 },
    );
    const token = await server.mint({ exp: Math.floor(now / 1000) + 3600 });
    await verifier.verify(await server.mint({ exp: Math.floor(now / 1000) + 3600, n: 1 }));
    await server.stop();
    now += 61_000; // past cache_ttl: refreshed in the background, which fails
    await expect(verifier.verify(token)).resolves.toBeDefined();
    await sleep(100);
    now += 1;
    await expect(
      verifier.verify(await server.mint({ exp: Math.floor(now / 1000) + 3600, n: 2 })),
    ).resolves.toBeDefined();
    expect(stale).toBeGreaterThanOrEqual(1);
    now += 600_000; // beyond cache_ttl + maxStale: the set is no longer used
    const err = await errorOf(
      verifier.verify(await server.mint({ exp: Math.floor(now / 1000) + 3600, n: 3 })),
    );
    expect(err).toBeInstanceOf(VerifierUnavailableError);
    expect(err).toMatchObject({ code: 'ERR_KEY_SOURCE_UNAVAILABLE' });
  });

  it('lets a verifier started while the IdP is down serve the key set from Redis', async () => {
    const server = await idp();
    const first = verifierFor(server, { sharedCache: new RedisSharedCache(await redisClient()) });
    await first.verify(await server.mint());
    await server.stop();
    const fresh = verifierFor(server, { sharedCache: new RedisSharedCache(await redisClient()) });
    await expect(fresh.verify(await server.mint({ n: 1 }, { kid: 'es256-1' }))).resolves.toBeDefined();
    expect(server.fetches).toBe(1);
  });

  it('answers 503 to a verifier with nothing cached', async () => {
    const server = await idp();
    const token = await server.mint();
    await server.stop();
    const verifier = verifierFor(server);
    const err = await errorOf(verifier.verify(token));
    expect(err).toBeInstanceOf(VerifierUnavailableError);
    expect(err?.message).toMatch(
      /^The signing keys of TokenIntrospector\/external-auth-server could not be fetched from http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json/,
    );
  });
});

describe('Redis', () => {
  it('holds the key set under a hashed key, public keys only', async () => {
    const server = await idp();
    const redis = await redisClient();
    const verifier = verifierFor(server, { sharedCache: new RedisSharedCache(redis) });
    await verifier.verify(await server.mint());
    const keys = await redis.keys('authz:jwks*');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key).not.toContain('127.0.0.1');
    const stored = (await Promise.all(keys.map((k) => redis.get(k)))).join('');
    expect(stored).toContain(server.keys[0]!.publicJwk!.n as string);
    expect(stored).not.toContain('"d"');
  });

  it('stopped: verification goes straight to the origin and never waits on Redis', async () => {
    const ownRedis = await startRedis();
    cleanups.push(() => ownRedis.dispose());
    const commandTimeoutMs = 500;
    const redis = await redisClient(ownRedis, commandTimeoutMs);
    const server = await idp();
    const verifier = verifierFor(server, { sharedCache: new RedisSharedCache(redis) });
    await verifier.verify(await server.mint());
    await ownRedis.stop();
    await until(() => redis.status !== 'ready', 'the client to notice');
    const rotated = await server.addKey('ES256');
    server.resetFetches();
    const fresh = verifierFor(server, { sharedCache: new RedisSharedCache(redis) });
    const calls = [
      [verifier, await server.mint({ n: 1 }, { kid: rotated.kid })], // unknown kid: refetch without the lock
      [fresh, await server.mint({ n: 2 }, { kid: 'rs256-1' })], // nothing cached anywhere: origin
      [fresh, await server.mint({ n: 3 }, { kid: rotated.kid })],
    ] as const;
    for (const [v, token] of calls) {
      const started = performance.now();
      await expect(v.verify(token)).resolves.toMatchObject({ introspector: 'external-auth-server' });
      // One loopback fetch at most; waiting on Redis would take the command timeout.
      expect(performance.now() - started).toBeLessThan(commandTimeoutMs);
    }
    expect(server.fetches).toBe(2);
  });

  it('hung (CLIENT PAUSE), with pauseAfterErrorMs: a verification waits on Redis for one command timeout at most', async () => {
    const timeoutMs = 300;
    const redis = await redisClient(redisServer, timeoutMs);
    const admin = await redisClient();
    const server = await idp();
    const verifier = verifierFor(server, {
      sharedCache: new RedisSharedCache(redis, { pauseAfterErrorMs: 1000 }),
    });
    await verifier.verify(await server.mint());
    const rotated = await server.addKey('RS256');
    const token = await server.mint({}, { kid: rotated.kid });
    await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
    cleanups.push(() => admin.call('CLIENT', 'UNPAUSE').catch(() => {}));
    const started = performance.now();
    // The refetch reads Redis (times out once), then skips it: lock and write are not waited for.
    await expect(verifier.verify(token)).resolves.toBeDefined();
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(elapsed).toBeLessThan(timeoutMs * 1.5);
  });
});

/** An RSA key the IdP does not publish. */
async function strangerKey() {
  const { generateSigningKey } = await import('@authz/test-support');
  const key = await generateSigningKey('RS256');
  const privateJwk = key.privateKey.export({ format: 'jwk' }) as Record<string, string>;
  return { key, privateJwk, publicJwk: key.publicJwk as Record<string, string> };
}
