export { type CommonEnv, EnvError, EnvReader, readCommonEnv } from './env.js';
export { HotCounter, type HotCounterSeries, HotHistogram, HotHistogramSeries } from './hot-metrics.js';
export { exitOnFatal, onShutdown } from './lifecycle.js';
export { createLogger, type Logger, REDACT_PATHS } from './logger.js';
export {
  Counter,
  createRegistry,
  Gauge,
  Histogram,
  LATENCY_BUCKETS,
  memoByKey,
  type Registry,
} from './metrics.js';
export {
  connectNats,
  type KV,
  type NatsConnection,
  natsHealth,
  openConfigBucket,
  openRevocationBucket,
} from './nats.js';
export { listen, type OpsProbe, type OpsReply, opsReply, type Readiness } from './ops.js';
export { announceReady, type ReadyMessage } from './ready.js';
export { connectRedis, type Redis } from './redis.js';
export { acceptRequestId } from './request-id.js';
export { runService, type ServiceDefinition, type StartedService } from './service.js';
