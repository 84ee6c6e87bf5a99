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
import { InvalidTokenError, VerifierUnavailableError } from '../errors.js';
import { introspectionCacheKey } from './cache.js';
import { IntrospectionClient } from './client.js';
import type { IntrospectionClientOptions, OpaqueIntrospectorConfig } from './config.js';

const AUTH = 'Bearer introspection-client-secret';
let redisServer: TestServer;
let redis: Redis;
let idpA: IntrospectionServer;
let idpB: IntrospectionServer;
let clock: number;
let seq = 0;
const clients: IntrospectionClient[] = [];

/** A token no earlier test has used. */
const freshToken = () => `opaque-${++seq}-${Math.random().toString(36).slice(2)}`;
const nowSeconds = () => Math.floor(clock / 1000);

/**
 * A fail-fast client as the services make it (@authz/runtime connectRedis), once ready, with a
 * 1 s command timeout: on a loaded CI box a 50 ms reply can be late, and the client then rightly
 * works without Redis — not what these tests, all with Redis up, count calls for.
 */
async function connectFailFast(url: string): Promise<Redis> {
  const client = connectRedis(url, createLogger('redis-test', 'silent'), 1000);
  if (client.status !== 'ready') await once(client, 'ready');
  return client;
}

function introspector(
  id: string,
  server: IntrospectionServer,
  cacheTtlSeconds = 300,
): OpaqueIntrospectorConfig {
  return { id, url: server.url, authorization: AUTH, cacheTtlSeconds };
}

function newClient(
  list: OpaqueIntrospectorConfig[],
  options: IntrospectionClientOptions = {},
): IntrospectionClient {
  const client = new IntrospectionClient({
    sharedCache: new RedisSharedCache(redis),
    now: () => clock,
    timeoutMs: 400,
    ...options,
  });
  client.setIntrospectors(list);
  clients.push(client);
  return client;
}

async function rejection(
  promise: Promise<unknown>,
): Promise<{ name: string; code: string; message: string; introspector?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { name: string; code: string; message: string; introspector?: string };
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  redisServer = await startRedis();
  redis = await connectFailFast(redisServer.url);
  idpA = await startIntrospectionServer({ authorization: AUTH });
  idpB = await startIntrospectionServer({ authorization: AUTH });
});

afterAll(async () => {
  for (const client of clients) client.close();
  redis.disconnect();
  await Promise.all([idpA.dispose(), idpB.dispose(), redisServer.dispose()]);
});

beforeEach(async () => {
  clock = Date.now();
  for (const idp of [idpA, idpB]) {
    idp.setFailure(undefined);
    idp.setDelay(0);
    await idp.start();
  }
});

describe('IntrospectionClient: the seed opaque scenario', () => {
  it('accepts an active token: the identity carries the whole introspection response', async () => {
    const token = freshToken();
    const exp = nowSeconds() + 3600;
    idpA.setToken(token, { active: true, sub: 'some-user-id', scope: 'openid', client_id: 'app', exp });
    const client = newClient([introspector('external-auth-server', idpA)]);
    expect(await client.introspect(token, hashToken(token))).toEqual({
      kind: 'opaque',
      introspector: 'external-auth-server',
      claims: { active: true, sub: 'some-user-id', scope: 'openid', client_id: 'app', exp },
      exp,
    });
  });

  it('refuses an inactive token with ERR_TOKEN_INACTIVE', async () => {
    const token = freshToken();
    idpA.setToken(token, { active: false });
    const client = newClient([introspector('external-auth-server', idpA)]);
    const err = await rejection(client.introspect(token, hashToken(token)));
    expect(err).toBeInstanceOf(InvalidTokenError);
    expect(err).toMatchObject({
      code: 'ERR_TOKEN_INACTIVE',
      message: 'the token is not active according to TokenIntrospector/external-auth-server',
      introspector: 'external-auth-server',
    });
  });

  it('refuses every token when no opaque introspector is configured', async () => {
    const client = newClient([]);
    expect(client.size).toBe(0);
    const err = await rejection(client.introspect('anything', hashToken('anything')));
    expect(err).toBeInstanceOf(InvalidTokenError);
    expect(err.code).toBe('ERR_TOKEN_MALFORMED');
    expect(err.message).toMatch(/no opaque TokenIntrospector is configured/);
  });
});

describe('IntrospectionClient: several introspectors', () => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, string]> = [
    [
      'an active answer beats an inactive one from a lower id',
      { active: false },
      { active: true, sub: 'b' },
      'b-idp',
    ],
    ['both active: the lowest id wins', { active: true, sub: 'a' }, { active: true, sub: 'b' }, 'a-idp'],
    ['only the lower id active', { active: true, sub: 'a' }, { active: false }, 'a-idp'],
  ];
  it.each(cases)('%s', async (_name, fromA, fromB, winner) => {
    const token = freshToken();
    idpA.setToken(token, fromA);
    idpB.setToken(token, fromB);
    // Listed out of order on purpose: the tie-break is by id, not by list position.
    const client = newClient([introspector('b-idp', idpB), introspector('a-idp', idpA)]);
    expect((await client.introspect(token, hashToken(token))).introspector).toBe(winner);
    expect([idpA.calls(token), idpB.calls(token)]).toEqual([1, 1]);
  });

  it('waits for a slower lower id instead of taking the first answer', async () => {
    const token = freshToken();
    idpA.setToken(token, { active: true, sub: 'a' });
    idpB.setToken(token, { active: true, sub: 'b' });
    idpA.setDelay(100);
    const client = newClient([introspector('a-idp', idpA), introspector('b-idp', idpB)]);
    expect((await client.introspect(token, hashToken(token))).introspector).toBe('a-idp');
  });

  it('takes a higher id that answered active when a lower one is down', async () => {
    const token = freshToken();
    idpB.setToken(token, { active: true, sub: 'b' });
    idpA.setFailure('status-500');
    const client = newClient([introspector('a-idp', idpA), introspector('b-idp', idpB)]);
    expect((await client.introspect(token, hashToken(token))).introspector).toBe('b-idp');
  });

  it('answers 503 naming the endpoint when none is active and one could not answer', async () => {
    const token = freshToken();
    idpA.setToken(token, { active: false });
    idpB.setFailure('status-500');
    const client = newClient([introspector('a-idp', idpA), introspector('b-idp', idpB)]);
    const err = await rejection(client.introspect(token, hashToken(token)));
    expect(err).toBeInstanceOf(VerifierUnavailableError);
    expect(err).toMatchObject({
      code: 'ERR_INTROSPECTION_UNAVAILABLE',
      introspector: 'b-idp',
      message:
        'the token could not be checked: the introspection endpoint of TokenIntrospector/b-idp answered HTTP 500',
    });
  });

  it('names every introspector when all say inactive', async () => {
    const token = freshToken();
    const client = newClient([introspector('a-idp', idpA), introspector('b-idp', idpB)]);
    const err = await rejection(client.introspect(token, hashToken(token)));
    expect(err.message).toBe(
      'the token is not active according to TokenIntrospector/a-idp, TokenIntrospector/b-idp',
    );
  });

  it('asks only the lower ids whose result expired when a higher one is cached active', async () => {
    const token = freshToken();
    idpB.setToken(token, { active: true, sub: 'b' });
    const client = newClient([introspector('a-idp', idpA), introspector('b-idp', idpB)]);
    await client.introspect(token, hashToken(token));
    clock += 11_000; // a-idp's negative result expired (memory and Redis), b-idp's active one did not
    expect((await client.introspect(token, hashToken(token))).introspector).toBe('b-idp');
    expect([idpA.calls(token), idpB.calls(token)]).toEqual([2, 1]);
  });

  it('drops cached results of an introspector whose configuration changed, keeps the others', async () => {
    const token = freshToken();
    idpA.setToken(token, { active: true, sub: 'a' });
    idpB.setToken(token, { active: true, sub: 'b' });
    const client = newClient([introspector('moving', idpA), introspector('steady', idpB)]);
    await client.introspect(token, hashToken(token));
    client.setIntrospectors([introspector('moving', idpB), introspector('steady', idpB)]);
    expect(await client.introspect(token, hashToken(token))).toMatchObject({
      introspector: 'moving',
      claims: { sub: 'b' },
    });
    expect([idpA.calls(token), idpB.calls(token)]).toEqual([1, 2]);
  });
});

describe('IntrospectionClient: caching', () => {
  it('serves a repeated token from memory, and another worker from Redis', async () => {
    const token = freshToken();
    idpA.setToken(token, { active: true, sub: 'u1' });
    const first = newClient([introspector('idp', idpA)]);
    const second = newClient([introspector('idp', idpA)]);
    await first.introspect(token, hashToken(token));
    await first.introspect(token, hashToken(token));
    await second.introspect(token, hashToken(token));
    expect(idpA.calls(token)).toBe(1);
  });

  it('keeps an active result no longer than exp', async () => {
    const token = freshToken();
    idpA.setToken(token, { active: true, sub: 'u1', exp: nowSeconds() + 5 });
    const client = newClient([introspector('idp', idpA)]);
    await client.introspect(token, hashToken(token));
    const ttl = await redis.ttl(`authz:${introspectionCacheKey('idp', hashToken(token))}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5);
    clock += 4_000;
    await client.introspect(token, hashToken(token));
    expect(idpA.calls(token)).toBe(1);
    clock += 2_000; // past exp: neither memory nor Redis may answer; the endpoint's own exp is honoured too
    const err = await rejection(client.introspect(token, hashToken(token)));
    expect(err.code).toBe('ERR_TOKEN_INACTIVE');
    expect(idpA.calls(token)).toBe(2);
  });

  it('keeps an active result no longer than cache_ttl', async () => {
    const token = freshToken();
    idpA.setToken(token, { active: true, sub: 'u1' });
    const client = newClient([introspector('idp', idpA, 30)]);
    await client.introspect(token, hashToken(token));
    expect(await redis.ttl(`authz:${introspectionCacheKey('idp', hashToken(token))}`)).toBe(30);
    clock += 31_000;
    await client.introspect(token, hashToken(token));
    expect(idpA.calls(token)).toBe(2);
  });

  it('refuses an active answer whose exp has already passed', async () => {
    const token = freshToken();
    idpA.setToken(token, { active: true, sub: 'u1', exp: nowSeconds() - 1 });
    const client = newClient([introspector('idp', idpA)]);
    expect((await rejection(client.introspect(token, hashToken(token)))).code).toBe('ERR_TOKEN_INACTIVE');
  });

  it('caches an inactive answer for the negative TTL only', async () => {
    const token = freshToken();
    const client = newClient([introspector('idp', idpA)], { negativeTtlSeconds: 10 });
    await rejection(client.introspect(token, hashToken(token)));
    expect(await redis.ttl(`authz:${introspectionCacheKey('idp', hashToken(token))}`)).toBe(10);
    clock += 9_000;
    await rejection(client.introspect(token, hashToken(token)));
    expect(idpA.calls(token)).toBe(1);
    clock += 1_000;
    idpA.setToken(token, { active: true, sub: 'now-active' });
    expect((await client.introspect(token, hashToken(token))).claims.sub).toBe('now-active');
    expect(idpA.calls(token)).toBe(2);
  });

  it('forgets a revoked token in memory and in Redis: the next check calls the endpoint', async () => {
    const token = freshToken();
    idpA.setToken(token, { active: true, sub: 'u1' });
    idpB.setToken(token, { active: true, sub: 'u1' });
    const list = [introspector('a-idp', idpA), introspector('b-idp', idpB)];
    const worker1 = newClient(list);
    const worker2 = newClient(list);
    await worker1.introspect(token, hashToken(token));
    await worker1.revoke(hashToken(token));
    for (const id of ['a-idp', 'b-idp']) {
      expect(await redis.exists(`authz:${introspectionCacheKey(id, hashToken(token))}`)).toBe(0);
    }
    idpA.setToken(token, { active: false });
    idpB.setToken(token, { active: false });
    expect((await rejection(worker2.introspect(token, hashToken(token)))).code).toBe('ERR_TOKEN_INACTIVE');
    expect((await rejection(worker1.introspect(token, hashToken(token)))).code).toBe('ERR_TOKEN_INACTIVE');
    expect(idpA.calls(token)).toBe(2);
  });
});

describe('IntrospectionClient: endpoint down or broken', () => {
  it('keeps a cached token working while the endpoint is stopped; an uncached one gets 503', async () => {
    const cached = freshToken();
    const uncached = freshToken();
    idpA.setToken(cached, { active: true, sub: 'u1' });
    idpA.setToken(uncached, { active: true, sub: 'u2' });
    const worker1 = newClient([introspector('idp', idpA)]);
    await worker1.introspect(cached, hashToken(cached));
    await idpA.stop();
    const worker2 = newClient([introspector('idp', idpA)]); // a worker with an empty memory: Redis serves it
    expect((await worker1.introspect(cached, hashToken(cached))).claims.sub).toBe('u1');
    expect((await worker2.introspect(cached, hashToken(cached))).claims.sub).toBe('u1');
    const err = await rejection(worker1.introspect(uncached, hashToken(uncached)));
    expect(err).toBeInstanceOf(VerifierUnavailableError);
    expect(err).toMatchObject({ code: 'ERR_INTROSPECTION_UNAVAILABLE', introspector: 'idp' });
    expect(err.message).toMatch(
      /^the token could not be checked: the introspection endpoint of TokenIntrospector\/idp did not answer: .*ECONNREFUSED/,
    );
  });

  const failures: Array<[string, (idp: IntrospectionServer) => void, string]> = [
    ['garbage', (idp) => idp.setFailure('garbage'), 'answered with a body that is not JSON'],
    ['HTTP 500', (idp) => idp.setFailure('status-500'), 'answered HTTP 500'],
    ['a JSON array', (idp) => idp.setFailure('not-object'), 'answered with JSON that is not an object'],
    ['an oversized response', (idp) => idp.setFailure('oversized'), 'exceeds 65536 bytes'],
    ['a timeout', (idp) => idp.setDelay(1000), 'within 400 ms'],
  ];
  it.each(failures)('answers %s with 503, not 401, and caches nothing', async (_name, breakIt, reason) => {
    const token = freshToken();
    idpA.setToken(token, { active: true, sub: 'u1' });
    const client = newClient([introspector('idp', idpA)]);
    breakIt(idpA);
    const err = await rejection(client.introspect(token, hashToken(token)));
    expect(err).toBeInstanceOf(VerifierUnavailableError);
    expect(err.code).toBe('ERR_INTROSPECTION_UNAVAILABLE');
    expect(err.message).toContain(reason);
    idpA.setFailure(undefined);
    idpA.setDelay(0);
    expect((await client.introspect(token, hashToken(token))).claims.sub).toBe('u1');
  });

  it('answers 503 for an introspector whose URL the outbound rules refuse', async () => {
    const client = newClient([
      { id: 'plain', url: 'http://idp.example.com/introspect', cacheTtlSeconds: 300 },
    ]);
    const err = await rejection(client.introspect('t', hashToken('t')));
    expect(err).toMatchObject({
      code: 'ERR_INTROSPECTION_UNAVAILABLE',
      message:
        'the token could not be checked: the introspection endpoint of TokenIntrospector/plain is refused: introspection_endpoint.url uses plain http for idp.example.com: use https, or list the host in AUTHZ_INSECURE_HOSTS',
    });
  });
});
