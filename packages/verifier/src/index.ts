export {
  ClientAuthenticator,
  type ClientAuthenticatorOptions,
  type ClientAuthFailure,
  type ClientAuthResult,
  type ClientResource,
} from './basic/client-authenticator.js';
export { type BasicCredentials, basicCredentials, MAX_BASIC_CREDENTIALS } from './basic/credentials.js';
export { FailureThrottle, type FailureThrottleLimits } from './basic/throttle.js';
export { type ClusterFlight, runClusterFlight } from './cache/cluster-flight.js';
export { LruMap } from './cache/lru.js';
export { MemorySharedCache, type MemorySharedCacheOptions } from './cache/memory-shared-cache.js';
export {
  type LockResult,
  RedisSharedCache,
  type RedisSharedCacheOptions,
  type SharedCache,
} from './cache/shared-cache.js';
export {
  type ConfigIssue,
  DpopProofError,
  IntrospectorConfigError,
  InvalidTokenError,
  VerifierError,
  type VerifierErrorCode,
  VerifierUnavailableError,
} from './errors.js';
export {
  checkResolvedHost,
  ForbiddenAddressError,
  forbiddenAddress,
  type ResolveAll,
} from './http/address-policy.js';
export { type BoundedFetchOptions, boundedFetch, checkOutboundUrl, type FetchResult } from './http/fetch.js';
export {
  type CompiledIntrospector,
  type CompiledJwtIntrospector,
  type CompiledOpaqueIntrospector,
  compileIntrospector,
  normalizeIntrospector,
} from './introspector/compile.js';
export { introspectorWarnings } from './introspector/warnings.js';
export { discoveryUrlOf } from './jwks/discovery.js';
export { KeySourceError, type KeySourceFailureCode } from './jwks/failure.js';
export { MAX_JWKS_BYTES } from './jwks/key-sources.js';
export {
  IntrospectionClient,
  type IntrospectionClientOptions,
  introspectionCacheKey,
  type OpaqueIntrospectorConfig,
} from './opaque/index.js';
export { hashSecret, isHashedSecret, verifySecret } from './secrets/scrypt.js';
export {
  bindingOf,
  confirmationOf,
  type DpopReplayStore,
  type DpopRequest,
  htuOf,
  MemoryReplayStore,
  type PresentedToken,
  RedisReplayStore,
  SenderConstraints,
  type SenderFacts,
  type TokenConfirmation,
  type VerifiedDpopProof,
  verifyDpopProof,
} from './sender/index.js';
export type { TokenVerifierOptions, VerifiedToken } from './types.js';
export { silentLogger, type VerifiedIdentity, type VerifierLogger, type VerifierMetrics } from './types.js';
export { TokenVerifier } from './verifier.js';
