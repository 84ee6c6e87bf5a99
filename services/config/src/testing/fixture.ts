import type { AddressInfo } from 'node:net';
import { subjects } from '@authz/protocol';
import {
  connectNats,
  createLogger,
  createRegistry,
  type KV,
  type Logger,
  type NatsConnection,
  openConfigBucket,
  openRevocationBucket,
} from '@authz/runtime';
import { startNats, type TestServer } from '@authz/test-support';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { AuditReader, type AuditReadLimits, DEFAULT_READ_LIMITS } from '../audit/reader.js';
import { ensureAuditStream } from '../audit/stream.js';
import type { ConsoleOptions } from '../console/gate.js';
import type { RevocationCache } from '../deps.js';
import { type Engines, realEngines } from '../engines.js';
import { createConfigMetrics } from '../metrics.js';
import { createConfigServer } from '../server.js';
import { ResourceStore } from '../store/kv-store.js';
import { RevocationStore } from '../store/revocation-store.js';

export const ADMIN = { user: 'admin', password: 'test-admin-password' };

/** `Authorization` header value for the test admin. */
export const basic = (user = ADMIN.user, password = ADMIN.password) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A config service running in this process against a real NATS (JetStream) server. */
export interface ConfigFixture {
  url: string;
  nats: TestServer;
  nc: NatsConnection;
  kv: KV;
  /** the durable revocation bucket */
  revocationKv: KV;
  prefix: string;
  /** fetch against the service with admin credentials unless `authorization` is given. */
  request(path: string, init?: RequestInit & { authorization?: string | null }): Promise<Response>;
  /** The raw KV value of `<type>.<id>`, parsed; `undefined` when absent or deleted. */
  stored(type: string, id: string): Promise<unknown>;
  /** Every live key in the bucket. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

/** Starts NATS and an in-process config service on a free port. */
export async function startConfigFixture(
  options: {
    engines?: Engines;
    revocationCache?: RevocationCache;
    nats?: TestServer;
    prefix?: string;
    logger?: Logger;
    console?: ConsoleOptions;
    /** Create the AUTHZ_DECISIONS stream and serve `GET /AuditEvent` with these limits. */
    audit?: Partial<AuditReadLimits>;
  } = {},
): Promise<ConfigFixture> {
  const nats = options.nats ?? (await startNats());
  const prefix = options.prefix ?? 'authz';
  const logger = options.logger ?? createLogger('authz-config-test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const env = {
    natsServers: [nats.url],
    subjectPrefix: prefix,
    logLevel: 'silent' as const,
    insecureHosts: [],
  };
  const nc = await connectNats(env, 'authz-config-test', logger);
  const kv = await openConfigBucket(nc, { create: true });
  let audit: AuditReader | undefined;
  if (options.audit) {
    const jsm = await jetstreamManager(nc);
    await ensureAuditStream(jsm, { subject: subjects(prefix).decisions, maxAgeSeconds: 3600, replicas: 1 });
    audit = new AuditReader(jetstream(nc), jsm, { ...DEFAULT_READ_LIMITS, ...options.audit });
  }
  const revocationKv = await openRevocationBucket(nc, { create: true });
  const server = createConfigServer(
    {
      store: new ResourceStore(kv),
      revocations: new RevocationStore(nc, revocationKv, logger),
      engines: options.engines ?? realEngines(),
      metrics: createConfigMetrics(createRegistry('authz-config')),
      logger,
      nc,
      subjects: subjects(prefix),
      revocationCache: options.revocationCache,
      health: () => ({ nats: !nc.isClosed(), kv: true }),
      checkTimeoutMs: 500,
      audit,
    },
    ADMIN,
    { console: options.console },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    nats,
    nc,
    kv,
    revocationKv,
    prefix,
    request(path, init = {}) {
      const { authorization, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (authorization !== null) headers.set('authorization', authorization ?? basic());
      return fetch(url + path, { ...rest, headers });
    },
    async stored(type, id) {
      const entry = await kv.get(`${type}.${id}`);
      return entry && entry.operation === 'PUT' ? entry.json() : undefined;
    },
    async keys() {
      const out: string[] = [];
      for await (const key of await kv.keys()) out.push(key);
      return out.sort();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await nc.close();
      if (!options.nats) await nats.dispose();
    },
  };
}
