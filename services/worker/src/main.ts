#!/usr/bin/env node
import { hostname } from 'node:os';
import { compileOperationResolver } from '@authz/policy';
import { DPOP_PROOF_MAX_AGE_SECONDS, queryRedactor, subjects as subjectsFor, wire } from '@authz/protocol';
import {
  connectNats,
  connectRedis,
  type KV,
  type Logger,
  type NatsConnection,
  natsHealth,
  openConfigBucket,
  openRevocationBucket,
  type Redis,
  runService,
  type StartedService,
} from '@authz/runtime';
import { loadFhirDefinitions } from '@authz/smart';
import {
  ClientAuthenticator,
  MemoryReplayStore,
  RedisReplayStore,
  RedisSharedCache,
  SenderConstraints,
  type VerifierMetrics,
} from '@authz/verifier';
import { CheckService } from './check-service.js';
import { ConfigState } from './config-state.js';
import { ConfigWatcher } from './config-watch.js';
import { createTokenVerifier } from './described.js';
import { readWorkerEnv, type WorkerEnv } from './env.js';
import { createWorkerMetrics } from './metrics.js';
import { startOpsServer } from './ops-http.js';
import { RevocationWatcher } from './revocation-watch.js';
import { UserDirectory } from './users.js';

/** JetStream API timeout of User reads (three tries with pauses stay under a second). */
const USER_READ_TIMEOUT_MS = 250;

/** This process in logs, events and replies: `<host>:<pid>`. */
const WORKER_ID = `${hostname()}:${process.pid}`;

runService({
  name: 'authz-worker',
  readEnv: readWorkerEnv,
  bindings: { worker: WORKER_ID },
  start: startWorker,
});

/** Connects, loads the configuration, subscribes to checks, and says how to stop (draining). */
async function startWorker(env: WorkerEnv, logger: Logger): Promise<StartedService> {
  const workerId = WORKER_ID;
  const metrics = createWorkerMetrics();
  const subjects = subjectsFor(env.subjectPrefix);

  const nc = await connectNats(env, 'authz-worker', logger, (type) => metrics.natsStatus.inc({ type }));
  // Readiness follows the connection: a worker cut off from NATS cannot see config changes.
  const natsUp = natsHealth(nc);
  const redis = env.redisUrl ? connectRedis(env.redisUrl, logger, env.redisTimeoutMs) : undefined;
  // Give Redis a moment before the first key-set loads, so a worker started while an IdP is down
  // can still serve from the cluster's cached key sets. Never more than a second: Redis is a cache.
  if (redis) await redisReady(redis, 1000);
  const verifier = createTokenVerifier({
    // Without Redis the verifier's shared tier is this process's memory (MemorySharedCache):
    // its lookups are not Redis lookups, so they are not counted as such.
    sharedCache: redis ? new RedisSharedCache(redis) : undefined,
    logger,
    metrics: redis
      ? metrics.verifier
      : { ...metrics.verifier, cacheLookup: memoryTierOnly(metrics.verifier) },
    insecureHosts: env.insecureHosts,
    fetchTimeoutMs: env.fetchTimeoutMs,
    maxCachedTokens: env.maxCachedTokens,
    jwksRefetchCooldownMs: env.jwksRefetchCooldownMs,
    maxStaleSeconds: env.jwksMaxStaleSeconds,
  });

  const kv = await openBucketWhenCreated(nc, logger);
  const config = new ConfigState(logger, (list) => verifier.setIntrospectors(list));
  // Users are read on the decision path: a handle whose reads give up well inside a client's
  // 1 s deadline (retried, see UserDirectory), instead of nats.js's 5 s default.
  const userKv = await openConfigBucket(nc, { timeoutMs: USER_READ_TIMEOUT_MS });
  const users = new UserDirectory(userKv, env.maxCachedUsers);
  const watcher = new ConfigWatcher({ nc, kv }, config, users, logger, metrics.watch);
  watcher.start();
  // DESIGN §11: every durable revocation is in force before the first check is answered.
  const revocationKv = await openBucketWhenCreated(nc, logger, openRevocationBucket);
  const revocations = new RevocationWatcher({ nc, kv: revocationKv }, verifier, logger);
  revocations.start();

  const ops =
    env.httpPort === undefined
      ? undefined
      : await startOpsServer(
          env.httpPort,
          env.host,
          metrics.registry,
          () => watcher.isReady && revocations.isReady && natsUp(),
        );
  await Promise.all([watcher.ready, revocations.ready]);

  // The config service also broadcasts each token revocation: a hint that drops cached results at
  // once; the durable entry (RevocationWatcher) is what keeps the token refused.
  const revokeSub = nc.subscribe(subjects.revoke, {
    callback: (err, msg) => {
      if (err) return;
      let event: unknown;
      try {
        event = msg.json();
      } catch {
        // not JSON: refused below like any other malformed event
      }
      if (wire.RevokeEvent.check(event)) void verifier.revoke(event.token_hash);
      else logger.warn({ problem: wire.RevokeEvent.firstProblem(event) }, 'ignored a malformed revoke event');
    },
  });

  // The R4 definitions SMART scopes are checked with (~100 ms, once): never on a request's path.
  loadFhirDefinitions();
  // DPoP jti replay (DESIGN §13): one store for the cluster in Redis, failing closed (503) while
  // Redis is down; without REDIS_URL the window is this worker's own (README "Sender-constrained tokens").
  // DPoP replay claims wait longer than cache reads (DPOP_REPLAY_TIMEOUT_MS): a late answer there is
  // a refused request, not a cache miss. Its own connection, whose timeout is only a backstop: the
  // store keeps the deadline itself, fairly under load (a late worker is not a slow Redis).
  const replayRedis = env.redisUrl
    ? connectRedis(env.redisUrl, logger, Math.max(1000, env.dpopReplayTimeoutMs * 4))
    : undefined;
  if (replayRedis) await redisReady(replayRedis, 1000);
  const sender = new SenderConstraints(
    replayRedis
      ? new RedisReplayStore(replayRedis, DPOP_PROOF_MAX_AGE_SECONDS * 1000, env.dpopReplayTimeoutMs)
      : new MemoryReplayStore(),
  );
  if (!redis)
    logger.warn(
      'no REDIS_URL: DPoP proof replay is detected per worker only; run one worker or configure Redis',
    );
  const service = new CheckService(
    nc,
    {
      config,
      verifier,
      users,
      operations: compileOperationResolver({ fhirBase: env.fhirBase }),
      clients: new ClientAuthenticator({ client: (id) => config.client(id) }),
      inlineRequests: env.inlineRequests,
      sender,
    },
    {
      subjects,
      maxInflight: env.maxInflight,
      workerId,
      logger,
      metrics,
      redactUri: queryRedactor(env.redactParams),
    },
  );
  service.start();
  await nc.flush();
  const ready = { subject: subjects.check, revision: config.revision, metricsPort: ops?.address() };
  const stop = async () => {
    // Drain: stop taking checks, answer the accepted ones, flush replies and events.
    await service.drain();
    revokeSub.unsubscribe();
    revocations.stop();
    watcher.stop();
    verifier.close();
    await nc.drain();
    redis?.disconnect();
    replayRedis?.disconnect();
    ops?.close();
    logger.info('stopped');
  };
  return { ready, stop };
}

function redisReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
    function done() {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    }
  });
}

/** Buckets are created by the config service; a worker started first waits for them. */
async function openBucketWhenCreated(
  nc: NatsConnection,
  logger: Logger,
  open: (nc: NatsConnection) => Promise<KV> = openConfigBucket,
): Promise<KV> {
  for (let attempt = 0; ; attempt++) {
    try {
      const kv = await open(nc);
      await kv.status();
      return kv;
    } catch (err) {
      if (attempt % 10 === 0)
        logger.warn(
          { err: (err as Error).message },
          'waiting for the config bucket (is the config service running?)',
        );
      await new Promise((r) => setTimeout(r, Math.min(200 * (attempt + 1), 2000)));
    }
  }
}

/** The verifier's cache-lookup hook, counting only the in-process tier. */
function memoryTierOnly(hooks: VerifierMetrics): VerifierMetrics['cacheLookup'] {
  return (tier, kind, hit) => {
    if (tier === 'memory') hooks.cacheLookup?.(tier, kind, hit);
  };
}
