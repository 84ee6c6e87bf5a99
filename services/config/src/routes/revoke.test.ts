import { Writable } from 'node:stream';
import { hashToken, subjects } from '@authz/protocol';
import { connectRedis, type Redis } from '@authz/runtime';
import { startRedis, type TestServer } from '@authz/test-support';
import { introspectionCacheKey, RedisSharedCache } from '@authz/verifier';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigFixture, startConfigFixture } from '../testing/fixture.js';

const TOKEN = 'opaque-token-4f1c9a-never-in-logs';
const form = { 'content-type': 'application/x-www-form-urlencoded' };

let config: ConfigFixture;
let redisServer: TestServer;
let redis: Redis;
let logs = '';

beforeAll(async () => {
  redisServer = await startRedis();
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk, _enc, done) {
        logs += chunk.toString();
        done();
      },
    }),
  );
  redis = connectRedis(redisServer.url, logger, 200);
  await new Promise((resolve) => redis.once('ready', resolve));
  let failures = 0;
  config = await startConfigFixture({
    logger,
    revocationCache: {
      cache: new RedisSharedCache(redis, { onError: () => void failures++ }),
      ready: () => redis.status === 'ready',
      failures: () => failures,
    },
  });
  // Introspectors are written straight to KV: this file is about revocation, not validation.
  for (const [id, type] of [
    ['opaque-a', 'opaque'],
    ['opaque-b', 'opaque'],
    ['jwt-a', 'jwt'],
  ]) {
    await config.kv.put(
      `TokenIntrospector.${id}`,
      JSON.stringify({ resourceType: 'TokenIntrospector', id, type }),
    );
  }
});
afterAll(async () => {
  redis?.disconnect();
  await config?.close();
  await redisServer?.dispose();
});

function cacheKeys(token: string): string[] {
  return ['opaque-a', 'opaque-b'].map((id) => `authz:${introspectionCacheKey(id, hashToken(token))}`);
}

describe('POST /$revoke', () => {
  it.each([
    ['a form body', `token=${encodeURIComponent(TOKEN)}`, form],
    ['a JSON body', JSON.stringify({ token: TOKEN }), { 'content-type': 'application/json' }],
  ])(
    'with %s: clears Redis for every opaque introspector and broadcasts only the hash',
    async (_n, body, headers) => {
      for (const key of cacheKeys(TOKEN)) await redis.set(key, '{"active":true}', 'EX', 60);
      const other = `authz:${introspectionCacheKey('opaque-a', hashToken('another-token'))}`;
      await redis.set(other, '{"active":true}', 'EX', 60);
      const sub = config.nc.subscribe(subjects(config.prefix).revoke, { max: 1 });
      const received = (async () => {
        for await (const msg of sub) return msg.string();
      })();

      const res = await config.request('/$revoke', { method: 'POST', body, headers });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ revoked: true, token_hash: hashToken(TOKEN) });

      const event = await received;
      expect(JSON.parse(event as string)).toEqual({ token_hash: hashToken(TOKEN) });
      expect(event).not.toContain(TOKEN);
      for (const key of cacheKeys(TOKEN)) expect(await redis.exists(key)).toBe(0);
      expect(await redis.exists(other)).toBe(1);
      expect(logs).toContain('token revoked');
      expect(logs).not.toContain(TOKEN);
    },
  );

  it.each([
    ['no token', 'x=1', form],
    ['an empty token', 'token=', form],
    ['a token that is not a string', '{"token": 42}', { 'content-type': 'application/json' }],
  ])('refuses %s with 422 naming the field', async (_n, body, headers) => {
    const res = await config.request('/$revoke', { method: 'POST', body, headers });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as { issue: Array<{ expression: string[] }> };
    expect(outcome.issue[0]?.expression).toEqual(['token']);
  });

  it('refuses YAML bodies with 415', async () => {
    const res = await config.request('/$revoke', {
      method: 'POST',
      body: `token: ${TOKEN}`,
      headers: { 'content-type': 'text/yaml' },
    });
    expect(res.status).toBe(415);
  });

  it('still tells workers, but answers 503, when Redis cannot be cleared', async () => {
    await redisServer.stop();
    try {
      const sub = config.nc.subscribe(subjects(config.prefix).revoke, { max: 1 });
      const received = (async () => {
        for await (const msg of sub) return msg.json();
      })();
      const res = await config.request('/$revoke', { method: 'POST', body: `token=${TOKEN}`, headers: form });
      expect(res.status).toBe(503);
      const outcome = (await res.json()) as { issue: Array<{ code: string; diagnostics: string }> };
      expect(outcome.issue[0]).toMatchObject({
        code: 'transient',
        diagnostics:
          'workers were told to forget the token, but Redis could not be cleared; retry the revocation',
      });
      expect(await received).toEqual({ token_hash: hashToken(TOKEN) });
    } finally {
      await redisServer.start();
    }
  });
});
