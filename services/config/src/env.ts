import { fhirBaseProblem } from '@authz/policy';
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
  /** `AUTHZ_FHIR_BASE` (DESIGN §12): how `POST /auth/test-policy` resolves a request's Operation. */
  fhirBase: string;
  /** How long a write keeps retrying across a JetStream leader election (`CONFIG_STORE_RETRY_MS`). */
  storeRetryMs: number;
  /**
   * `AUTHZ_AUDIT`: `on` (default) keeps decision events in the `AUTHZ_DECISIONS` stream; `off`
   * neither creates nor maintains it (the live feed on `authz.v1.decisions` is unchanged).
   */
  audit: boolean;
  /** Retention of the `AUTHZ_DECISIONS` audit stream, seconds (`AUTHZ_AUDIT_MAX_AGE`, DESIGN §14). */
  auditMaxAgeSeconds: number;
  /** Disk cap of the audit stream, bytes; oldest dropped first (`AUTHZ_AUDIT_MAX_BYTES`, -1: none). */
  auditMaxBytes: number;
  /** A Bundle file or a directory applied at start (`AUTHZ_INIT_BUNDLE`, DESIGN §14). */
  initBundle?: string;
}

/** Default audit retention: 30 days. */
const AUDIT_MAX_AGE_DEFAULT = 30 * 86_400;
const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `30d`, `12h`, `90m`, `3600s` or plain seconds; at least a minute, at most ten years. */
function parseDuration(env: EnvReader, name: string, fallback: number): number {
  const raw = env.string(name);
  if (raw === undefined) return fallback;
  const m = /^(\d{1,9})([smhd]?)$/.exec(raw.trim());
  const seconds = m ? Number(m[1]) * (DURATION_UNITS[m[2] || 's'] as number) : Number.NaN;
  if (!(seconds >= 60 && seconds <= 3650 * 86_400)) {
    env.problem(
      `${name}=${JSON.stringify(raw)} must be a duration like 30d, 12h, 90m or 3600s, from 1m to 3650d`,
    );
    return fallback;
  }
  return seconds;
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
    fhirBase: env.string('AUTHZ_FHIR_BASE', '/fhir'),
    storeRetryMs: env.int('CONFIG_STORE_RETRY_MS', DEFAULT_STORE_RETRY_MS, { min: 0, max: 60_000 }),
    audit: env.oneOf('AUTHZ_AUDIT', ['on', 'off'], 'on') === 'on',
    auditMaxAgeSeconds: parseDuration(env, 'AUTHZ_AUDIT_MAX_AGE', AUDIT_MAX_AGE_DEFAULT),
    auditMaxBytes: env.int('AUTHZ_AUDIT_MAX_BYTES', -1, { min: -1 }),
    initBundle: env.string('AUTHZ_INIT_BUNDLE'),
  };
  const fhirBase = fhirBaseProblem(config.fhirBase);
  if (fhirBase !== undefined) env.problem(`AUTHZ_FHIR_BASE: ${fhirBase}`);
  if (config.adminUser.includes(':'))
    env.problem('CONFIG_ADMIN_USER must not contain ":" (HTTP Basic, RFC 7617)');
  env.done();
  return config;
}
