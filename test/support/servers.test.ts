import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startNats, startRedis, type TestServer } from './index.js';

describe('test harness', () => {
  const owned: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(owned.map((s) => s.dispose()));
  });

  it('starts, stops and restarts nats-server on the same port', async () => {
    const nats = await startNats();
    owned.push(nats);
    const nc = await connect({ servers: nats.url });
    await nc.flush();
    await nc.close();
    await nats.stop();
    await expect(connect({ servers: nats.url, reconnect: false, timeout: 500 })).rejects.toThrow();
    await nats.start();
    const again = await connect({ servers: nats.url });
    await again.close();
  });

  it('starts redis-server on a free port', async () => {
    const redis = await startRedis();
    owned.push(redis);
    const client = new Redis(redis.url, { lazyConnect: true });
    await client.connect();
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });
});
