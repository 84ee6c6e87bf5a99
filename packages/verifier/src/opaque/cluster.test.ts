import { once } from 'node:events';
import { hashToken } from '@authz/protocol';
import { connectRedis, createLogger, type Redis } from '@authz/runtime';
import {
  type IntrospectionServer,
  startIntrospectionServer,
  startRedis,
  type TestServer,
} from '@authz/test-support';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisSharedCache } from '../cache/shared-cache.js';
import { introspectionCacheKey, introspectionLockKey } from './cache.js';
import { IntrospectionClient } from './client.js';

// Several workers (IntrospectionClient instances) sharing one real Redis and one real endpoint.

const AUTH = 'Basic d29ya2VyOnNlY3JldA==';
let redisServer: TestServer;
let redis: Redis;
let idp: IntrospectionServer;
let seq = 0;
const clients: IntrospectionClient[] = [];
const tokensUsed: string[] = [];

const freshToken = () => {
  const token = `cluster-${++seq}-${Math.random().toString(36).slice(2)}`;
  tokensUsed.push(token);
  return token;
};

/** A fail-fast client exactly as the services make it (@authz/runtime connectRedis), once ready. */
async function connectFailFast(url: string, commandTimeoutMs?: number): Promise<Redis> {
  const client = connectRedis(url, createLogger('redis-test', 'silent'), commandTimeoutMs);
  if (client.status !== 'ready') await once(client, 'ready');
  return client;
}

/** A worker: its own Redis connection (as in production), one opaque introspector. */
async function worker(timeoutMs = 1000): Promise<IntrospectionClient> {
  // These tests are about the single flight while Redis is up. A loaded CI box can take longer
  // than the services' 50 ms command timeout for a round trip, which a worker rightly takes for
  // Redis being down (and then calls the endpoint itself): give Redis room to count as up.
  const connection = await connectFailFast(redisServer.url, 1000);
  const client = new IntrospectionClient({ sharedCache: new RedisSharedCache(connection), timeoutMs });
  client.setIntrospectors([{ id: 'idp', url: idp.url, authorization: AUTH, cacheTtlSeconds: 300 }]);
  clients.push(client);
  const close = client.close.bind(client);
  client.close = () => {
    close();
    connection.disconnect();
  };
  return client;
}

beforeAll(async () => {
  redisServer = await startRedis();
  redis = await connectFailFast(redisServer.url);
  idp = await startIntrospectionServer({ authorization: AUTH });
});

afterAll(async () => {
  for (const client of clients) client.close();
  redis.disconnect();
  await Promise.all([idp.dispose(), redisServer.dispose()]);
});

beforeEach(() => {
  idp.setDelay(0);
});

describe('introspection single-flight', () => {
  it('makes one endpoint call for 100 concurrent checks of one token across two workers', async () => {
    const token = freshToken();
    idp.setToken(token, { active: true, sub: 'u1' });
    idp.setDelay(50);
    const [w1, w2] = [await worker(), await worker()];
    const checks = Array.from({ length: 100 }, (_, i) =>
      (i % 2 === 0 ? w1 : w2).introspect(token, hashToken(token)),
    );
    const identities = await Promise.all(checks);
    expect(new Set(identities.map((id) => id.claims.sub))).toEqual(new Set(['u1']));
    expect(idp.calls(token)).toBe(1);
  });

  it('calls again after a revoke, once', async () => {
    const token = freshToken();
    idp.setToken(token, { active: true, sub: 'u1' });
    const [w1, w2] = [await worker(), await worker()];
    await w1.introspect(token, hashToken(token));
    await w1.revoke(hashToken(token));
    await w2.revoke(hashToken(token)); // every worker hears the revoke broadcast
    idp.setDelay(30);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? w1 : w2).introspect(token, hashToken(token))),
    );
    expect(idp.calls(token)).toBe(2);
  });

  it('never lets a result fetched during a revocation land in Redis afterwards', async () => {
    const token = freshToken();
    idp.setToken(token, { active: true, sub: 'u1' });
    const [slow, admin, later] = [await worker(), await worker(), await worker()];
    idp.setDelay(300);
    // `slow` asks the endpoint (active) while the token is revoked at the IdP and through the
    // cluster — and it has not heard the revoke broadcast yet, so nothing cancels its call.
    const inFlight = slow.introspect(token, hashToken(token));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await admin.revoke(hashToken(token));
    await expect(inFlight).resolves.toMatchObject({ claims: { sub: 'u1' } }); // answered before the revoke
    const key = `authz:${introspectionCacheKey('idp', hashToken(token))}`;
    expect(await redis.get(key)).toBeNull(); // its write came after the revocation: refused
    // Had it landed, every worker would be served "active" from Redis until cache_ttl.
    idp.setToken(token, { active: false });
    idp.setDelay(0);
    await expect(later.introspect(token, hashToken(token))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INACTIVE',
    });
    // After the revocation, results are shared again: a fresh worker reads the inactive one.
    const fresh = await worker();
    const calls = idp.calls(token);
    await expect(fresh.introspect(token, hashToken(token))).rejects.toMatchObject({
      code: 'ERR_TOKEN_INACTIVE',
    });
    expect(idp.calls(token)).toBe(calls);
    expect(Number(await redis.get(`${key}:generation`))).toBe(1);
    expect(await redis.pttl(`${key}:generation`)).toBeGreaterThan(60_000);
  });

  it('calls the endpoint itself once the lock of a vanished holder expires', async () => {
    const token = freshToken();
    idp.setToken(token, { active: true, sub: 'u1' });
    const lock = `authz:${introspectionLockKey(introspectionCacheKey('idp', hashToken(token)))}`;
    await redis.set(lock, 'a-worker-that-died', 'PX', 150);
    const started = performance.now();
    expect((await (await worker()).introspect(token, hashToken(token))).claims.sub).toBe('u1');
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(800);
    expect(idp.calls(token)).toBe(1);
  });

  it('stops waiting for a holder that never writes after the timeout and calls itself', async () => {
    const token = freshToken();
    idp.setToken(token, { active: true, sub: 'u1' });
    const lock = `authz:${introspectionLockKey(introspectionCacheKey('idp', hashToken(token)))}`;
    await redis.set(lock, 'a-hung-worker', 'PX', 60_000);
    const started = performance.now();
    expect((await (await worker(300)).introspect(token, hashToken(token))).claims.sub).toBe('u1');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(idp.calls(token)).toBe(1);
  });

  it('lets waiting workers call themselves when the lock holder could not get an answer', async () => {
    const token = freshToken();
    idp.setToken(token, { active: true, sub: 'u1' });
    const [w1, w2] = [await worker(), await worker()];
    idp.setFailure('status-500');
    idp.setDelay(80);
    const first = w1.introspect(token, hashToken(token)).catch((err: { code: string }) => err.code);
    // Wait until w1's call has reached the endpoint (it holds the lock and gets the 500), however
    // slow the machine is; a fixed sleep made this test depend on load.
    const arrived = Date.now() + 5000;
    while (!idp.requests.some((r) => r.tokenHash === hashToken(token)) && Date.now() < arrived) {
      await new Promise((r) => setTimeout(r, 2));
    }
    idp.setFailure(undefined); // w2's own call (after w1 released the lock with nothing) succeeds
    const second = w2.introspect(token, hashToken(token));
    expect(await first).toBe('ERR_INTROSPECTION_UNAVAILABLE');
    expect((await second).claims.sub).toBe('u1');
    expect(idp.calls(token)).toBe(2);
  });
});

describe('introspection with Redis holding no secrets', () => {
  it('never writes the raw token into any Redis key or value', async () => {
    const echoed = freshToken();
    idp.setToken(echoed, { active: true, sub: 'u1', token: echoed }); // a careless endpoint echoes it
    const plain = freshToken();
    idp.setToken(plain, { active: true, sub: 'u2' });
    const inactive = freshToken();
    const w = await worker();
    await w.introspect(echoed, hashToken(echoed));
    await w.introspect(plain, hashToken(plain));
    await w.introspect(inactive, hashToken(inactive)).catch(() => {});
    const keys = await redis.keys('*');
    expect(keys).toContain(`authz:${introspectionCacheKey('idp', hashToken(plain))}`);
    expect(keys).not.toContain(`authz:${introspectionCacheKey('idp', hashToken(echoed))}`);
    const values = await Promise.all(keys.map((k) => redis.get(k)));
    const everything = keys.join('\n') + values.join('\n');
    for (const token of tokensUsed) expect(everything).not.toContain(token);
  });
});

describe('introspection while Redis is down', () => {
  let ownRedis: TestServer;
  let w1: IntrospectionClient;
  let w2: IntrospectionClient;

  beforeAll(async () => {
    ownRedis = await startRedis();
    const make = async () => {
      const connection = await connectFailFast(ownRedis.url);
      const client = new IntrospectionClient({
        sharedCache: new RedisSharedCache(connection),
        timeoutMs: 1000,
      });
      client.setIntrospectors([{ id: 'idp', url: idp.url, authorization: AUTH, cacheTtlSeconds: 300 }]);
      clients.push(client);
      const close = client.close.bind(client);
      client.close = () => {
        close();
        connection.disconnect();
      };
      return client;
    };
    [w1, w2] = [await make(), await make()];
  });
  afterAll(() => ownRedis.dispose());

  it('keeps verifying without waiting on Redis, one call per worker', async () => {
    const cachedBefore = freshToken();
    idp.setToken(cachedBefore, { active: true, sub: 'u0' });
    await w1.introspect(cachedBefore, hashToken(cachedBefore));
    await ownRedis.stop({ kill: true });
    const token = freshToken();
    idp.setToken(token, { active: true, sub: 'u1' });
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? w1 : w2).introspect(token, hashToken(token))),
    );
    // Worst case: one in-flight command hits the 50 ms command timeout before ioredis notices the
    // close; waiting on Redis per call would take 20 × 50 ms. Room for a loaded CI box in between.
    expect(performance.now() - started).toBeLessThan(800);
    expect(results.every((r) => r.claims.sub === 'u1')).toBe(true);
    expect(idp.calls(token)).toBe(2);
    expect((await w1.introspect(cachedBefore, hashToken(cachedBefore))).claims.sub).toBe('u0');
  });
});

describe('introspection hot path', () => {
  it('answers a cached token in microseconds', async () => {
    const token = freshToken();
    idp.setToken(token, { active: true, sub: 'u1' });
    const w = await worker();
    const tokenHash = hashToken(token);
    await w.introspect(token, tokenHash);
    const rounds = 100_000;
    for (let i = 0; i < 10_000; i++) await w.introspect(token, tokenHash);
    const started = performance.now();
    for (let i = 0; i < rounds; i++) await w.introspect(token, tokenHash);
    const microseconds = ((performance.now() - started) * 1000) / rounds;
    console.info(`cached opaque introspect: ${microseconds.toFixed(2)} µs per call`);
    expect(microseconds).toBeLessThan(20);
    expect(idp.calls(token)).toBe(1);
  });
});
