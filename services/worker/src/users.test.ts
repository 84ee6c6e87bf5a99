import { CONFIG_BUCKET } from '@authz/protocol';
import { startNats, type TestServer } from '@authz/test-support';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserDirectory, UserLookupError } from './users.js';

describe('UserDirectory against a real KV bucket', () => {
  let nats: TestServer;
  let nc: NatsConnection;
  let kv: KV;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url, noAsyncTraces: true });
    kv = await new Kvm(nc).create(CONFIG_BUCKET, { history: 1 });
    await kv.put('User.alice', JSON.stringify({ resourceType: 'User', name: 'Alice' }));
  });
  afterAll(async () => {
    await nc.close();
    await nats.dispose();
  });

  it('fetches a User once, then answers from memory synchronously', async () => {
    const users = new UserDirectory(kv, 10);
    expect(await users.get('alice')).toEqual({ resourceType: 'User', name: 'Alice', id: 'alice' });
    expect(users.get('alice')).toEqual({ resourceType: 'User', name: 'Alice', id: 'alice' });
  });

  it('caches a missing User as missing, and forgets it when the watch says it changed', async () => {
    const users = new UserDirectory(kv, 10);
    expect(await users.get('bob')).toBeUndefined();
    await kv.put('User.bob', JSON.stringify({ resourceType: 'User' }));
    expect(users.get('bob')).toBeUndefined();
    users.invalidate('bob');
    expect(await users.get('bob')).toMatchObject({ id: 'bob' });
  });

  it.each(['*', '>', 'a b', 'a.*', '.lead', 'trail.', 'a..b', 'x'.repeat(256), ''])(
    'treats the claim %j as no such User without touching KV',
    (id) => {
      const users = new UserDirectory(kv, 10);
      expect(users.get(id)).toBeUndefined();
    },
  );

  it('retries a failed KV read, then gives up with a reason naming the User', async () => {
    let failuresLeft = 2;
    // The real bucket, with its first reads failing as they do while a JetStream leader moves.
    const flaky = {
      get: (key: string) =>
        failuresLeft-- > 0 ? Promise.reject(new Error('503 no responders')) : kv.get(key),
    } as unknown as KV;
    expect(await new UserDirectory(flaky, 10).get('alice')).toMatchObject({ id: 'alice' });
    failuresLeft = 3;
    const started = performance.now();
    const failing = new UserDirectory(flaky, 10).get('alice');
    await expect(failing).rejects.toBeInstanceOf(UserLookupError);
    await expect(failing).rejects.toThrow(/User\/alice could not be read .*503 no responders; retry shortly/);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('stays within its bound', async () => {
    const users = new UserDirectory(kv, 3);
    for (const id of ['u1', 'u2', 'u3', 'u4', 'u5']) await users.get(id);
    expect(users.size).toBe(3);
  });
});
