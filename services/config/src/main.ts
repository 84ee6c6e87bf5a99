#!/usr/bin/env node
import { subjects } from '@authz/protocol';
import {
  connectNats,
  connectRedis,
  createRegistry,
  type Logger,
  listen,
  natsHealth,
  openConfigBucket,
  openRevocationBucket,
  runService,
  type StartedService,
} from '@authz/runtime';
import { RedisSharedCache } from '@authz/verifier';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { AuditReader } from './audit/reader.js';
import { AuditStreamWatch } from './audit/stream.js';
import { loadInitBundle } from './bundle/init.js';
import type { ConfigDeps, RevocationCache } from './deps.js';
import { realEngines } from './engines.js';
import { type ConfigEnv, readConfigEnv } from './env.js';
import { createConfigMetrics } from './metrics.js';
import { createConfigServer } from './server.js';
import { ResourceStore } from './store/kv-store.js';
import { RevocationStore } from './store/revocation-store.js';

runService({ name: 'authz-config', readEnv: readConfigEnv, start: startConfig });

/** Connects to NATS (creating the bucket and the audit stream) and Redis, serves the admin API. */
async function startConfig(env: ConfigEnv, logger: Logger): Promise<StartedService> {
  const nc = await connectNats(env, 'authz-config', logger);
  const natsUp = natsHealth(nc);
  const kv = await openConfigBucket(nc, { create: true, replicas: env.kvReplicas });
  const revocations = new RevocationStore(
    nc,
    await openRevocationBucket(nc, { create: true, replicas: env.kvReplicas }),
    logger,
  );
  revocations.startPruning();
  const redis = env.redisUrl ? connectRedis(env.redisUrl, logger) : undefined;
  let redisFailures = 0;
  const revocationCache: RevocationCache | undefined = redis && {
    cache: new RedisSharedCache(redis, { onError: () => void redisFailures++ }),
    ready: () => redis.status === 'ready',
    failures: () => redisFailures,
  };

  const metrics = createConfigMetrics(createRegistry('authz-config'));
  const names = subjects(env.subjectPrefix);
  // DESIGN §14: the audit stream is created (and re-created) here; nats-server writes it.
  // AUTHZ_AUDIT=off: no stream is made or kept, and GET /AuditEvent says the trail is off.
  const auditWatch = env.audit
    ? new AuditStreamWatch(
        nc,
        {
          subject: names.decisions,
          statsSubject: names.stats,
          maxAgeSeconds: env.auditMaxAgeSeconds,
          maxBytes: env.auditMaxBytes,
          replicas: env.kvReplicas,
        },
        {
          setAvailable: (up) => metrics.auditAvailable.set(up ? 1 : 0),
          seen: (n) => metrics.auditSeen.inc(n),
          lost: (n) => metrics.auditLost.inc(n),
        },
        logger,
      )
    : undefined;
  await auditWatch?.start();
  const audit = env.audit
    ? new AuditReader(jetstream(nc, { timeout: 2000 }), await jetstreamManager(nc, { timeout: 2000 }))
    : undefined;
  if (!env.audit) logger.warn('AUTHZ_AUDIT=off: decision events are not kept (no AUTHZ_DECISIONS stream)');

  const deps: ConfigDeps = {
    store: new ResourceStore(kv, env.storeRetryMs),
    revocations,
    engines: realEngines({ insecureHosts: env.insecureHosts }),
    metrics,
    logger,
    nc,
    subjects: names,
    revocationCache,
    audit,
    health: () => ({ nats: natsUp(), kv: true }),
    checkTimeoutMs: env.checkTimeoutMs,
  };
  if (env.initBundle) {
    // DESIGN §14: Aidbox's init bundle, before serving. Invalid → the start fails naming the
    // file and field, with nothing written.
    const result = await loadInitBundle(deps, env.initBundle);
    logger.info({ bundle: env.initBundle, ...result }, 'init bundle loaded');
  }
  const server = createConfigServer(
    deps,
    { user: env.adminUser, password: env.adminPassword },
    { fhirBase: env.fhirBase },
  );
  const port = await listen(server, env.port, env.host);
  const host = env.host.includes(':') ? `[${env.host}]` : env.host;
  const stop = async () => {
    auditWatch?.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Idle keep-alive sockets and open decision streams would hold close() forever.
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    });
    revocations.stop();
    await nc.drain();
    redis?.disconnect();
  };
  return { ready: { port, host: env.host, url: `http://${host}:${port}/`, user: env.adminUser }, stop };
}
