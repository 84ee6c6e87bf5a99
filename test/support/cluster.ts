import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort } from './ports.js';
import { startNats, startRedis, type TestServer } from './servers.js';
import { type ServiceProcess, startService } from './services.js';

/** A whole local cluster for end-to-end tests: real NATS, Redis and built service processes. */
export interface TestCluster {
  nats: TestServer;
  redis: TestServer;
  config: ServiceProcess;
  workers: ServiceProcess[];
  gateway?: ServiceProcess;
  configUrl: string;
  gatewayUrl: string;
  adminPassword: string;
  /** A NATS connection for the test itself. */
  nc: NatsConnection;
  /** Base environment given to every service (NATS_URL, REDIS_URL, …). */
  env: Record<string, string>;
  /** An authenticated request to the config service. */
  admin(method: string, path: string, body?: unknown, contentType?: string): Promise<Response>;
  /** Starts one more worker. */
  addWorker(extraEnv?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  workers?: number;
  gateway?: boolean;
  /** extra env for every service */
  env?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
}

/** Starts NATS, Redis, the config service, `workers` workers and (by default) the gateway. */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const adminPassword = `pw-${Math.random().toString(36).slice(2)}`;
  const configPort = await freePort();
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    LOG_LEVEL: 'info',
    AUTHZ_INSECURE_HOSTS: '',
    ...options.env,
  };
  const config = await startService('config', {
    ...env,
    CONFIG_PORT: String(configPort),
    CONFIG_ADMIN_PASSWORD: adminPassword,
  });
  const configUrl = `http://127.0.0.1:${configPort}`;
  const workers = await Promise.all(
    Array.from({ length: options.workers ?? 2 }, () => startService('worker', env)),
  );
  let gateway: ServiceProcess | undefined;
  let gatewayUrl = '';
  if (options.gateway !== false) {
    const gatewayPort = await freePort();
    gateway = await startService('gateway', {
      ...env,
      GATEWAY_PORT: String(gatewayPort),
      ...options.gatewayEnv,
    });
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  }
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  const auth = `Basic ${Buffer.from(`admin:${adminPassword}`).toString('base64')}`;

  const cluster: TestCluster = {
    nats,
    redis,
    config,
    workers,
    gateway,
    configUrl,
    gatewayUrl,
    adminPassword,
    nc,
    env,
    admin: (method, path, body, contentType) => {
      const init: RequestInit = { method, headers: { authorization: auth } };
      if (body !== undefined) {
        const type = contentType ?? (typeof body === 'string' ? 'text/yaml' : 'application/json');
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        init.headers = { authorization: auth, 'content-type': type };
      }
      return fetch(configUrl + path, init);
    },
    addWorker: async (extraEnv = {}) => {
      const worker = await startService('worker', { ...env, ...extraEnv });
      workers.push(worker);
      return worker;
    },
    stop: async () => {
      await nc.close().catch(() => {});
      // What the cluster holds now: a test may have replaced its config service or gateway.
      const services = [cluster.gateway, ...cluster.workers, cluster.config].filter(
        (s): s is ServiceProcess => s !== undefined,
      );
      await Promise.all(services.map((s) => s.stop('SIGKILL')));
      await Promise.all([nats.dispose(), redis.dispose()]);
    },
  };
  return cluster;
}
