import { fhirBaseProblem } from '@authz/policy';
import { parseRedactParams } from '@authz/protocol';
import { type CommonEnv, EnvReader, readCommonEnv } from '@authz/runtime';

/** Worker settings, parsed once at start-up. */
export interface WorkerEnv extends CommonEnv {
  /** Port for /healthz, /readyz, /metrics; unset → no HTTP listener. */
  httpPort?: number;
  host: string;
  /** Checks decided concurrently before new ones are answered 503 at once. */
  maxInflight: number;
  /** Users kept in memory (the rest are fetched from KV on demand). */
  maxCachedUsers: number;
  /** Verified tokens kept in memory. */
  maxCachedTokens: number;
  /** Timeout of outbound JWKS / introspection calls. */
  fetchTimeoutMs: number;
  /** Redis command timeout; Redis never slows a decision more than this. */
  redisTimeoutMs: number;
  /** How long a DPoP proof's replay claim waits for Redis before the request is refused (503). */
  dpopReplayTimeoutMs: number;
  /** Unknown-`kid` JWKS refetches happen at most once per key source per this many ms, cluster-wide. */
  jwksRefetchCooldownMs: number;
  /** How long past `cache_ttl` a key set is served while its source is down. */
  jwksMaxStaleSeconds: number;
  /** Path of the FHIR API behind the gateway (`AUTHZ_FHIR_BASE`, DESIGN §12). */
  fhirBase: string;
  /** `AUTHZ_AUTHORIZE_INLINE_REQUESTS`: `_include`/`_revinclude` need each included type's search allowed. */
  inlineRequests: boolean;
  /** `AUTHZ_REDACT_PARAMS`: query parameters whose values decision events redact (DESIGN §11). */
  redactParams: string[];
}

/** Reads the worker environment; throws EnvError listing every problem. */
export function readWorkerEnv(source: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const env = new EnvReader(source);
  const common = readCommonEnv(env);
  const httpPort = env.string('WORKER_HTTP_PORT') === undefined ? undefined : env.port('WORKER_HTTP_PORT', 0);
  const result: WorkerEnv = {
    ...common,
    httpPort,
    host: env.string('HOST', '127.0.0.1'),
    maxInflight: env.int('WORKER_MAX_INFLIGHT', 2048, { min: 1, max: 1_000_000 }),
    maxCachedUsers: env.int('WORKER_MAX_CACHED_USERS', 10_000, { min: 0, max: 10_000_000 }),
    maxCachedTokens: env.int('WORKER_MAX_CACHED_TOKENS', 100_000, { min: 0, max: 10_000_000 }),
    fetchTimeoutMs: env.int('AUTHZ_FETCH_TIMEOUT_MS', 2000, { min: 50, max: 60_000 }),
    redisTimeoutMs: env.int('REDIS_COMMAND_TIMEOUT_MS', 50, { min: 5, max: 5000 }),
    dpopReplayTimeoutMs: env.int('DPOP_REPLAY_TIMEOUT_MS', 250, { min: 5, max: 5000 }),
    jwksRefetchCooldownMs: env.int('AUTHZ_JWKS_REFETCH_COOLDOWN_MS', 30_000, { min: 100, max: 3_600_000 }),
    jwksMaxStaleSeconds: env.int('AUTHZ_JWKS_MAX_STALE_SECONDS', 21_600, { min: 0, max: 7 * 86_400 }),
    fhirBase: env.string('AUTHZ_FHIR_BASE', '/fhir'),
    inlineRequests: env.oneOf('AUTHZ_AUTHORIZE_INLINE_REQUESTS', ['true', 'false'], 'false') === 'true',
    redactParams: parseRedactParams(env.string('AUTHZ_REDACT_PARAMS')),
  };
  const fhirBase = fhirBaseProblem(result.fhirBase);
  if (fhirBase !== undefined) env.problem(`AUTHZ_FHIR_BASE: ${fhirBase}`);
  env.done();
  return result;
}
