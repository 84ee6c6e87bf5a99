import { createHash } from 'node:crypto';
import type { SharedCache } from '../cache/shared-cache.js';
import { checkOutboundUrl } from '../http/fetch.js';
import type { VerifierLogger, VerifierMetrics } from '../types.js';

/** One `type: opaque` TokenIntrospector, as the verifier needs it. */
export interface OpaqueIntrospectorConfig {
  /** TokenIntrospector id; also the deterministic tie-break between introspectors (lowest wins). */
  id: string;
  /** `introspection_endpoint.url` */
  url: string;
  /** `introspection_endpoint.authorization`: the exact `Authorization` header sent to the endpoint. */
  authorization?: string;
  /** `cache_ttl`: longest time an active result is reused, seconds. */
  cacheTtlSeconds: number;
  /** `introspection_endpoint.token_prefix`: only tokens starting with it are sent here (DESIGN §11). */
  tokenPrefix?: string;
  /** `introspection_endpoint.jwt_issuers`: JWT-shaped tokens of these untrusted-by-jwt issuers may be sent here. */
  jwtIssuers?: readonly string[];
}

/** Options of {@link IntrospectionClient}. Every member is optional. */
export interface IntrospectionClientOptions {
  /** Cluster-wide cache (Redis); without it results are cached in-process only. */
  sharedCache?: SharedCache;
  logger?: VerifierLogger;
  metrics?: VerifierMetrics;
  /** Clock in milliseconds since the epoch (tests move it); default `Date.now`. */
  now?: () => number;
  /** Hosts allowed over plain http besides loopback (`AUTHZ_INSECURE_HOSTS`). */
  insecureHosts?: readonly string[];
  /** Deadline of one introspection call (connect + answer), ms. Default 2000. */
  timeoutMs?: number;
  /** Largest introspection response accepted, bytes. Default 64 KiB. */
  maxResponseBytes?: number;
  /** How long an inactive answer is reused, seconds. Default 10. */
  negativeTtlSeconds?: number;
  /** Bound of the in-process result cache (entries). Default 100 000. */
  maxEntries?: number;
}

/**
 * An introspector prepared once per configuration revision. Cached results point at the record
 * they came from, so replacing the record (the config changed) invalidates them by identity.
 */
export interface IntrospectorRecord {
  readonly id: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly cacheTtlMs: number;
  /**
   * Names the endpoint in shared-cache values: a result written for another URL under the same
   * id (a config change another worker has not seen yet, or has) is ignored. Hash of the URL
   * only — never of the authorization secret.
   */
  readonly fingerprint: string;
  /** Why the URL may not be called (`checkOutboundUrl`), decided once; `undefined` when it may. */
  readonly urlProblem: string | undefined;
  /** See {@link OpaqueIntrospectorConfig.tokenPrefix}. */
  readonly tokenPrefix: string | undefined;
  /** See {@link OpaqueIntrospectorConfig.jwtIssuers}. */
  readonly jwtIssuers: readonly string[] | undefined;
}

/** Prepares one introspector's record. */
export function compileOpaqueIntrospector(
  config: OpaqueIntrospectorConfig,
  insecureHosts: readonly string[],
): IntrospectorRecord {
  return {
    id: config.id,
    url: config.url,
    authorization: config.authorization,
    cacheTtlMs: Math.max(0, config.cacheTtlSeconds) * 1000,
    fingerprint: createHash('sha256').update(config.url).digest('base64url').slice(0, 16),
    urlProblem: checkOutboundUrl(config.url, insecureHosts),
    tokenPrefix: config.tokenPrefix,
    jwtIssuers: config.jwtIssuers,
  };
}

/** Whether `record` still describes `config` (same endpoint, credentials, TTL and routing). */
export function sameIntrospector(record: IntrospectorRecord, config: OpaqueIntrospectorConfig): boolean {
  return (
    record.url === config.url &&
    record.authorization === config.authorization &&
    record.cacheTtlMs === Math.max(0, config.cacheTtlSeconds) * 1000 &&
    record.tokenPrefix === config.tokenPrefix &&
    (record.jwtIssuers ?? []).join('\n') === (config.jwtIssuers ?? []).join('\n')
  );
}
