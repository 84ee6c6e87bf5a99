// The system under test, started for one run: nats-server (JetStream), redis-server, the config
// service, N workers, an RFC 7662 endpoint, and the configuration every scenario uses.
import { randomBytes } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { adminClient } from './config-api.mjs';
import { startIntrospection } from './introspection.mjs';
import { waitForRevision } from './observe.mjs';
import { freePort, startNatsServer, startRedisServer, startService } from './procs.mjs';
import { ALLOW_POLICY, BENCH_USER, introspectors, PROBE, user } from './resources.mjs';

export const SUBJECTS = { check: 'authz.v1.check', decisions: 'authz.v1.decisions' };
const encoder = new TextEncoder();

/** A check request (DESIGN §5) carrying `token`, encoded once so the load loop only sends bytes. */
export function checkPayload(token, request = PROBE) {
  return checkMessage(`Bearer ${token}`, request);
}

/**
 * The encoded check request for `request` with an `Authorization` header; `headers` are added to
 * the probe's, other `fields` (scheme, origin, …) override the message's.
 * @param {string} authorization
 * @param {{method: string, uri: string}} request
 * @param {{headers?: Record<string, string>} & Record<string, unknown>} [extra]
 */
export function checkMessage(authorization, request, { headers = {}, ...fields } = {}) {
  return encoder.encode(
    JSON.stringify({
      method: request.method,
      uri: request.uri,
      headers: { authorization, accept: 'application/fhir+json', 'user-agent': 'authz-bench/1', ...headers },
      remote_addr: '127.0.0.1',
      scheme: 'http',
      ...fields,
    }),
  );
}

/** Reply validator: a problem string unless the check was allowed. */
export function expectAllowed(msg) {
  const reply = msg.json();
  return reply.allow === true && reply.status === 200 ? undefined : `status ${reply.status}: ${reply.reason}`;
}

/** Starts everything and loads the base configuration; `keys` sign the scenario tokens. */
export async function startCluster({ workers: workerCount, nodeArgs, keys, log }) {
  const [nats, redis] = await Promise.all([startNatsServer(), startRedisServer()]);
  const opaqueToken = `opaque-${randomBytes(24).toString('base64url')}`;
  const introspection = await startIntrospection({
    token: opaqueToken,
    authorization: `Basic ${Buffer.from(`bench:${randomBytes(8).toString('hex')}`).toString('base64')}`,
    response: {
      active: true,
      sub: BENCH_USER,
      iss: 'https://opaque.bench.example',
      scope: 'openid fhir',
      exp: Math.floor(Date.now() / 1000) + 3600,
    },
  });
  const env = { NATS_URL: nats.url, REDIS_URL: redis.url, LOG_LEVEL: 'info' };
  const adminPassword = randomBytes(16).toString('hex');
  const configPort = await freePort();
  const config = await startService('config', {
    ...env,
    CONFIG_PORT: String(configPort),
    CONFIG_ADMIN_PASSWORD: adminPassword,
    // The audit stream is measured as its own path (jwt_cached_audit, see audit.mjs): every
    // other scenario runs without it, as their floors do.
    AUTHZ_AUDIT: 'off',
  });
  const admin = adminClient(`http://127.0.0.1:${configPort}`, 'admin', adminPassword);
  const workers = await Promise.all(
    Array.from({ length: workerCount }, () => startService('worker', env, { nodeArgs })),
  );
  log(
    `nats ${nats.url}, redis ${redis.url}, config :${configPort}, workers ${workers.map((w) => w.pid).join(', ')}`,
  );

  const nc = await connect({ servers: nats.url, name: 'authz-bench', noAsyncTraces: true });
  const kv = await new Kvm(nc).open('authz_config');
  const cluster = { nats, redis, introspection, opaqueToken, env, config, admin, workers, nc, kv };
  cluster.revisionOf = async (resource) => (await kv.get(`${resource.resourceType}.${resource.id}`)).revision;

  for (const resource of [...introspectors(keys, introspection), user(BENCH_USER), ALLOW_POLICY])
    await admin.put(resource);
  cluster.waitForWorkers = async (revision, probe) =>
    waitForRevision(
      nc,
      SUBJECTS,
      cluster.workers.map((w) => w.pid),
      revision,
      probe,
    );
  return cluster;
}

/** Stops the services first (so they drain and, when profiled, write their profiles), then the rest. */
export async function stopCluster(cluster) {
  if (!cluster) return;
  await cluster.nc.drain().catch(() => {});
  const services = [cluster.gateway, ...cluster.workers, cluster.config].filter(Boolean);
  await Promise.all(services.map((s) => s.stop('SIGTERM', 8000)));
  await cluster.introspection.close();
}
