import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { connectRedis, createLogger, type Redis } from '@authz/runtime';
import { startRedis, type TestServer } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryReplayStore, RedisReplayStore, withDeadline } from './replay.js';

const WINDOW_MS = 60_000;
const SPIN_400_MS = `
local t0 = redis.call('TIME')
repeat local t = redis.call('TIME') until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 400000
return 1`;
let server: TestServer;
const clients: Redis[] = [];

async function worker(prefix?: string, deadlineMs = 2000): Promise<RedisReplayStore> {
  // As the worker connects it: the connection's own timeout is a backstop, the store keeps its own.
  const client = connectRedis(server.url, createLogger('replay-test', 'silent'), 5000);
  if (client.status !== 'ready') await once(client, 'ready');
  clients.push(client);
  return new RedisReplayStore(client, WINDOW_MS, deadlineMs, prefix);
}

const ready = (client: Redis) => (client.status === 'ready' ? Promise.resolve() : once(client, 'ready'));

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server?.dispose();
});

describe('RedisReplayStore (real redis-server)', () => {
  it('lets one worker of the cluster claim a proof id, and only once', async () => {
    const [a, b] = [await worker(), await worker()];
    const now = Date.now();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).claim('k1', 5000, now)),
    );
    expect(results.filter((r) => r === 'fresh')).toHaveLength(1);
    expect(results.filter((r) => r === 'replayed')).toHaveLength(9);
  });

  it('fails closed while Redis is down, and refuses proofs from before a restart that lost its data', async () => {
    const a = await worker();
    const b = await worker();
    const before = Date.now();
    expect(await a.claim('k2', WINDOW_MS * 2, before)).toBe('fresh');
    expect(await b.claim('k3', WINDOW_MS * 2, before)).toBe('fresh');

    await server.stop();
    await expect(a.claim('k2', WINDOW_MS * 2, before)).rejects.toMatchObject({
      code: 'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE',
    });
    await server.start(); // no persistence: k2 and k3 are forgotten
    await Promise.all(clients.map(ready));

    // The replay of k2 (used before the restart) is refused, not taken as fresh.
    await expect(a.claim('k2', WINDOW_MS * 2, before)).rejects.toMatchObject({
      code: 'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE',
      message: expect.stringContaining('lost its memory'),
    });
    // So is any proof that could have been used before, on every worker, even one started since.
    await expect(b.claim('k3', WINDOW_MS * 2, before)).rejects.toMatchObject({
      message: expect.stringContaining('lost its memory'),
    });
    const newcomer = await worker();
    await expect(newcomer.claim('k4', WINDOW_MS * 2, Date.now())).rejects.toMatchObject({
      message: expect.stringContaining('lost its memory'),
    });
    // A proof issued a window after the reset cannot have been used before it.
    expect(await newcomer.claim('k5', WINDOW_MS * 2, Date.now() + WINDOW_MS + 1000)).toBe('fresh');
  });
});

describe('the replay claim deadline (REDIS_COMMAND_TIMEOUT_MS)', () => {
  // Its own key prefix: a store of its own epoch, untouched by the restart above.
  it('refuses when Redis does not answer in time', async () => {
    const store = await worker('authz:dpop-deadline:', 50);
    const blocker = connectRedis(server.url, createLogger('replay-test', 'silent'), 5000);
    clients.push(blocker);
    await ready(blocker);
    // A script that spins for 400 ms blocks the server: the claim cannot be answered within 50 ms.
    const sleeping = blocker.eval(SPIN_400_MS, 0);
    await expect(store.claim('k6', 5000, Date.now())).rejects.toMatchObject({
      code: 'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE',
      message: expect.stringContaining('does not answer'),
    });
    await sleeping;
  });

  it('takes an answer that arrived while this process was busy past the deadline', async () => {
    const store = await worker('authz:dpop-deadline:', 50);
    const claimed = store.claim('k7', 5000, Date.now());
    await new Promise((r) => setImmediate(r)); // the command leaves (auto-pipelined on this turn)
    // Then the event loop is held (a loaded worker) until the deadline has passed and Redis has run
    // the claim — so its answer waits in this process's socket when the deadline timer fires.
    const started = Date.now();
    const claimedInRedis = () =>
      execFileSync('redis-cli', ['-u', server.url, 'EXISTS', 'authz:dpop-deadline:jti:k7'])
        .toString()
        .trim() === '1';
    while (Date.now() - started < 100 || !claimedInRedis()) {
      if (Date.now() - started > 10_000) throw new Error('Redis never ran the claim');
    }
    expect(await claimed).toBe('fresh');
  });

  it('a late answer to a missed deadline is ignored, not delivered', async () => {
    let answer!: (v: string) => void;
    const late = withDeadline(new Promise<string>((r) => (answer = r)), 10);
    await expect(late).rejects.toThrow('no answer within 10 ms');
    answer('too late');
  });
});

describe('MemoryReplayStore', () => {
  it('forgets an id once its window passed, and refuses when full of live ids', async () => {
    let now = 1000;
    const store = new MemoryReplayStore(2, () => now);
    expect(await store.claim('a', 100, now)).toBe('fresh');
    expect(await store.claim('a', 100, now)).toBe('replayed');
    expect(await store.claim('b', 100, now)).toBe('fresh');
    await expect(store.claim('c', 100, now)).rejects.toMatchObject({
      code: 'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE',
    });
    now += 101;
    expect(await store.claim('c', 100, now)).toBe('fresh');
    expect(await store.claim('a', 100, now)).toBe('fresh');
  });
});
