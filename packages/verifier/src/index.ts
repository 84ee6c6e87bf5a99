export {
  type ConfigIssue,
  IntrospectorConfigError,
  InvalidTokenError,
  VerifierError,
  type VerifierErrorCode,
  VerifierUnavailableError,
} from './errors.js';
export { RedisSharedCache, type RedisSharedCacheOptions, type SharedCache } from './cache/shared-cache.js';
export { boundedFetch, type BoundedFetchOptions, checkOutboundUrl, type FetchResult } from './http/fetch.js';
export { IntrospectionClient, type IntrospectionClientOptions, introspectionCacheKey, type OpaqueIntrospectorConfig } from './opaque/index.js';
export { silentLogger, type VerifiedIdentity, type VerifierLogger, type VerifierMetrics } from './types.js';
