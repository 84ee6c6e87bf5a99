import type { SharedCache } from './cache/shared-cache.js';

/** What a verified token says about its bearer. Never holds the token itself. */
export interface VerifiedIdentity {
  kind: 'jwt' | 'opaque';
  /** id of the TokenIntrospector that accepted the token */
  introspector: string;
  /** JWT payload, or the whole RFC 7662 introspection response */
  claims: Record<string, unknown>;
  /** expiry, seconds since the epoch, when known */
  exp?: number;
  /** opaque: when the endpoint said `active`, ms since the epoch (a subject revocation drops older results) */
  checkedAt?: number;
}

/** Hooks for metrics; every member optional so tests and tools can pass nothing. */
export interface VerifierMetrics {
  cacheLookup?(tier: 'memory' | 'redis', kind: 'token' | 'jwks' | 'introspection', hit: boolean): void;
  jwksFetch?(ok: boolean): void;
  staleKeysServed?(): void;
  introspectionCall?(ok: boolean): void;
}

/** The pino-compatible subset of a logger the verifier uses. */
export interface VerifierLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything. */
export const silentLogger: VerifierLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Options of {@link TokenVerifier}; every member is optional. */
export interface TokenVerifierOptions<D = undefined> {
  /**
   * What the caller derives from a verified identity (a reply's identity, a policy context's
   * claims): computed on the first {@link TokenVerifier.cached} hit of a token and kept on its
   * cache entry, so it lives and dies with the entry. Default: nothing.
   */
  derive?: (identity: VerifiedIdentity) => D;
  /**
   * cluster-wide cache (Redis) for key sets and introspection results, shared with the other
   * workers; without it, a {@link MemorySharedCache} of this process
   */
  sharedCache?: SharedCache;
  logger?: VerifierLogger;
  metrics?: VerifierMetrics;
  /** hosts allowed over plain http besides loopback (`AUTHZ_INSECURE_HOSTS`) */
  insecureHosts?: readonly string[];
  /** clock in ms since the epoch, for tests; default `Date.now` */
  now?: () => number;
  /** deadline of one key-set fetch or introspection call, ms; default 2000 */
  fetchTimeoutMs?: number;
  /** bound of the in-process verified-token cache (LRU); default 100 000 */
  maxCachedTokens?: number;
  /** unknown-`kid` refetches happen at most once per key source per cooldown, cluster-wide; default 30 000 ms */
  jwksRefetchCooldownMs?: number;
  /** how long past `cache_ttl` a key set keeps serving while its origin is down; default 21 600 s (6 h) */
  maxStaleSeconds?: number;
}

/** A token this verifier accepted and still trusts, as {@link TokenVerifier.cached} returns it. */
export interface VerifiedToken<D> {
  /** the same object each time: treat it as read-only */
  readonly identity: VerifiedIdentity;
  /** `derive(identity)` (see {@link TokenVerifierOptions.derive}), computed once per cache entry */
  readonly derived: D;
}
