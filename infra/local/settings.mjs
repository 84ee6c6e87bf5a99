// Reads the local runner's environment (DESIGN §4) into one settings object, collecting every
// problem so a bad setting stops the runner with a single message.
import { randomBytes } from 'node:crypto';

/** A random secret, URL- and config-file-safe (base64url, 144 bits). */
export function generateSecret() {
  return randomBytes(18).toString('base64url');
}

/**
 * @typedef {object} Settings
 * @property {string | undefined} natsUrl        external NATS (comma list); the runner starts none
 * @property {number} natsCluster                nodes of the runner's own NATS (1, 3 or 5)
 * @property {{user?: string, password?: string, token?: string}} natsAuth  auth of the runner's own NATS
 * @property {string | undefined} redisUrl       external Redis; the runner starts none
 * @property {number} workers
 * @property {{port: number, explicit: boolean}} configPort
 * @property {{port: number, explicit: boolean}} gatewayPort
 * @property {{port: number, explicit: boolean}} gatewayGrpcPort  Envoy ext_authz (0: off)
 * @property {string} host
 * @property {string} adminUser
 * @property {string} adminPassword
 * @property {boolean} adminPasswordGenerated
 * @property {number} kvReplicas
 * @property {'pretty' | 'json'} logFormat
 * @property {string} logLevel
 * @property {string | undefined} upstreamUrl
 * @property {number} workerHeapMb               old-generation cap of each worker (`WORKER_HEAP_MB`, MiB)
 */

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * Parses the environment.
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ settings: Settings, problems: string[] }}
 */
export function readSettings(env = process.env) {
  const problems = [];
  const str = (name) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const int = (name, fallback, min, max) => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const port = (name, fallback) => ({
    port: int(name, fallback, 0, 65535),
    explicit: str(name) !== undefined,
  });

  const natsUrl = str('NATS_URL');
  const natsCluster = int('NATS_CLUSTER', 1, 1, 5);
  if (natsCluster % 2 === 0)
    problems.push(`NATS_CLUSTER=${natsCluster} must be odd (1, 3 or 5) to keep a quorum`);
  if (natsUrl && str('NATS_CLUSTER') && natsCluster > 1) {
    problems.push('NATS_CLUSTER starts the runner’s own NATS cluster; it cannot be combined with NATS_URL');
  }
  // TLS files describe an external server; the runner's own NATS listens on loopback without TLS.
  const tlsVars = ['NATS_TLS_CA', 'NATS_TLS_CERT', 'NATS_TLS_KEY'].filter((name) => str(name));
  if (!natsUrl && tlsVars.length > 0) {
    problems.push(`${tlsVars.join(', ')} need NATS_URL: the runner’s own NATS runs on loopback without TLS`);
  }
  if (str('NATS_USER') && !str('NATS_PASSWORD')) problems.push('NATS_USER needs NATS_PASSWORD');
  if (str('NATS_TOKEN') && str('NATS_USER'))
    problems.push('set NATS_TOKEN or NATS_USER/NATS_PASSWORD, not both');
  const natsAuth = str('NATS_TOKEN')
    ? { token: str('NATS_TOKEN') }
    : { user: str('NATS_USER') ?? 'authz', password: str('NATS_PASSWORD') ?? generateSecret() };

  const logFormat = str('LOG_FORMAT') ?? 'pretty';
  if (logFormat !== 'pretty' && logFormat !== 'json') {
    problems.push(`LOG_FORMAT=${JSON.stringify(logFormat)} must be pretty or json`);
  }
  const logLevel = str('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)} must be one of ${LOG_LEVELS.join(', ')}`);

  const upstreamUrl = str('UPSTREAM_URL');
  if (upstreamUrl && !/^https?:\/\/[^\s]+$/.test(upstreamUrl)) {
    problems.push(`UPSTREAM_URL=${JSON.stringify(upstreamUrl)} must be an http(s) URL`);
  }
  const adminPassword = str('CONFIG_ADMIN_PASSWORD');
  const settings = {
    natsUrl,
    natsCluster: natsUrl ? 1 : natsCluster,
    natsAuth,
    redisUrl: str('REDIS_URL'),
    workers: int('WORKERS', 2, 0, 64),
    workerHeapMb: int('WORKER_HEAP_MB', 192, 64, 65536),
    configPort: port('CONFIG_PORT', 8081),
    gatewayPort: port('GATEWAY_PORT', 8080),
    gatewayGrpcPort: port('GATEWAY_GRPC_PORT', 9191),
    host: str('HOST') ?? '127.0.0.1',
    adminUser: str('CONFIG_ADMIN_USER') ?? 'admin',
    adminPassword: adminPassword ?? generateSecret(),
    adminPasswordGenerated: adminPassword === undefined,
    // A replicated bucket on a single node cannot be created, so the default follows the cluster.
    kvReplicas: int('AUTHZ_KV_REPLICAS', natsUrl ? 1 : natsCluster, 1, 5),
    logFormat: /** @type {'pretty' | 'json'} */ (logFormat),
    logLevel,
    upstreamUrl,
  };
  if (!natsUrl && settings.kvReplicas > natsCluster) {
    problems.push(
      `AUTHZ_KV_REPLICAS=${settings.kvReplicas} exceeds the ${natsCluster} NATS node(s) the runner starts`,
    );
  }
  if (settings.configPort.explicit && settings.gatewayPort.explicit && settings.configPort.port !== 0) {
    if (settings.configPort.port === settings.gatewayPort.port)
      problems.push('CONFIG_PORT and GATEWAY_PORT are equal');
  }
  return { settings, problems };
}
