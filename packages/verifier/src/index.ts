export { LruMap } from './cache/lru.js';
export {
  type LockResult,
  RedisSharedCache,
  type RedisSharedCacheOptions,
  type SharedCache,
} from './cache/shared-cache.js';
export {
  type ConfigIssue,
  IntrospectorConfigError,
  InvalidTokenError,
  VerifierError,
  type VerifierErrorCode,
  VerifierUnavailableError,
} from './errors.js';
export { type BoundedFetchOptions, boundedFetch, checkOutboundUrl, type FetchResult } from './http/fetch.js';
export {
  type CompiledIntrospector,
  type CompiledJwtIntrospector,
  type CompiledOpaqueIntrospector,
  compileIntrospector,
  normalizeIntrospector,
} from './introspector/compile.js';
export {
  IntrospectionClient,
  type IntrospectionClientOptions,
  introspectionCacheKey,
  type OpaqueIntrospectorConfig,
} from './opaque/index.js';
export { silentLogger, type VerifiedIdentity, type VerifierLogger, type VerifierMetrics } from './types.js';
export { MAX_JWKS_BYTES, TokenVerifier, type TokenVerifierOptions } from './verifier.js';
