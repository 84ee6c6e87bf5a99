export type { ConsoleOptions } from './console/gate.js';
export type { ConfigDeps, RevocationCache } from './deps.js';
export { type Engines, type PolicyTestResult, realEngines } from './engines.js';
export { type ConfigEnv, readConfigEnv } from './env.js';
export { type ConfigMetrics, createConfigMetrics } from './metrics.js';
export { hashSecret, isHashedSecret, verifySecret } from './secrets.js';
export { type AdminCredentials, type ConfigServerOptions, createConfigServer } from './server.js';
export { type Precondition, ResourceStore, type StoredResource } from './store/kv-store.js';
