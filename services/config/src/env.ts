import { type CommonEnv, EnvReader, readCommonEnv } from '@authz/runtime';
import { DEFAULT_STORE_RETRY_MS } from './store/election-retry.js';

/** The config service's settings (DESIGN §4), read once at start-up. */
export interface ConfigEnv extends CommonEnv {
  port: number;
  host: string;
  adminUser: string;
  adminPassword: string;
  /** Replicas of the KV bucket when this service creates it (`AUTHZ_KV_REPLICAS`, 1..5). */
  kvReplicas: number;
  /** How long `POST /$check` waits for a worker (`CONFIG_CHECK_TIMEOUT_MS`). */
  checkTimeoutMs: number;
  /** How long a write keeps retrying across a JetStream leader election (`CONFIG_STORE_RETRY_MS`). */
  storeRetryMs: number;
}

/**
 * Reads {@link ConfigEnv}; throws `EnvError` listing every problem at once. There is no default
 * admin password: the service refuses to start without `CONFIG_ADMIN_PASSWORD`.
 */
export function readConfigEnv(source: NodeJS.ProcessEnv = process.env): ConfigEnv {
  const env = new EnvReader(source);
  const common = readCommonEnv(env);
  const config: ConfigEnv = {
    ...common,
    port: env.port('CONFIG_PORT', 8081),
    host: env.string('HOST', '127.0.0.1'),
    adminUser: env.string('CONFIG_ADMIN_USER', 'admin'),
    adminPassword: env.required('CONFIG_ADMIN_PASSWORD', 'the admin API has no default password; set one'),
    kvReplicas: env.int('AUTHZ_KV_REPLICAS', 1, { min: 1, max: 5 }),
    checkTimeoutMs: env.int('CONFIG_CHECK_TIMEOUT_MS', 2000, { min: 100, max: 30_000 }),
    storeRetryMs: env.int('CONFIG_STORE_RETRY_MS', DEFAULT_STORE_RETRY_MS, { min: 0, max: 60_000 }),
  };
  if (config.adminUser.includes(':'))
    env.problem('CONFIG_ADMIN_USER must not contain ":" (HTTP Basic, RFC 7617)');
  env.done();
  return config;
}
