/**
 * Opaque tokens: RFC 7662 introspection with in-process and cluster-wide caches (DESIGN §6 step 3).
 * @module
 */
export { introspectionCacheKey } from './cache.js';
export { IntrospectionClient } from './client.js';
export type { IntrospectionClientOptions, OpaqueIntrospectorConfig } from './config.js';
