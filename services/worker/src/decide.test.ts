import { compileOperationResolver } from '@authz/policy';
import {
  type CommonEnv,
  connectNats,
  createLogger,
  type KV,
  type NatsConnection,
  openConfigBucket,
} from '@authz/runtime';
import { mintJwt, startNats, type TestServer } from '@authz/test-support';
import { ClientAuthenticator, MemoryReplayStore, SenderConstraints } from '@authz/verifier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigState } from './config-state.js';
import { decide } from './decide.js';
import { createTokenVerifier } from './described.js';
import { parseCheckRequest } from './request.js';
import { UserDirectory } from './users.js';

const ISS = 'https://auth.example.com';

function deps(kv: KV) {
  const logger = createLogger('decide-test', 'silent');
  const verifier = createTokenVerifier();
  const config = new ConfigState(logger, (list) => verifier.setIntrospectors(list));
  config.apply({
    key: 'TokenIntrospector.idp',
    revision: 1,
    value: { resourceType: 'TokenIntrospector', id: 'idp', type: 'jwt', jwt: { iss: ISS, secret: 's' } },
  });
  config.apply({
    key: 'AccessPolicy.readers',
    revision: 2,
    value: {
      resourceType: 'AccessPolicy',
      id: 'readers',
      engine: 'matcho',
      matcho: { user: { data: { reader: true } } },
    },
  });
  config.commit();
  return {
    config,
    verifier,
    users: new UserDirectory(kv, 10),
    operations: compileOperationResolver(),
    clients: new ClientAuthenticator({ client: (id) => config.client(id) }),
    inlineRequests: false,
    sender: new SenderConstraints(new MemoryReplayStore()),
  };
}

async function check(token: string, kv: KV) {
  const parsed = parseCheckRequest(
    Buffer.from(
      JSON.stringify({ method: 'GET', uri: '/fhir/Patient', headers: { authorization: `Bearer ${token}` } }),
    ),
  );
  if (typeof parsed === 'string') throw new Error(parsed);
  return (await decide(parsed, deps(kv))).reply;
}

describe('decide and the User directory (real NATS KV)', () => {
  let nats: TestServer;
  let nc: NatsConnection;
  let kv: KV;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connectNats(
      { natsServers: [nats.url] } as CommonEnv,
      'decide-test',
      createLogger('t', 'silent'),
    );
    await openConfigBucket(nc, { create: true });
    kv = await openConfigBucket(nc, { timeoutMs: 250 });
    await kv.put('User.alice', JSON.stringify({ resourceType: 'User', data: { reader: true } }));
  });
  afterAll(async () => {
    await nc.close();
    await nats.dispose();
  });

  it('decides from the User read from KV', async () => {
    const token = await mintJwt({ key: 's', claims: { iss: ISS, sub: 'alice' } });
    expect(await check(token, kv)).toMatchObject({ allow: true, status: 200, policy: 'readers' });
  });

  it('answers 503 with a reason naming the User when KV cannot be read, within a second', async () => {
    const token = await mintJwt({ key: 's', claims: { iss: ISS, sub: 'alice' } });
    await nats.stop();
    try {
      const started = performance.now();
      const reply = await check(token, kv); // a fresh directory: nothing cached
      expect(reply).toMatchObject({ allow: false, status: 503 });
      expect(reply.reason).toMatch(/^User\/alice could not be read from the configuration store/);
      expect(performance.now() - started).toBeLessThan(1500);
    } finally {
      await nats.start();
    }
  });
});
