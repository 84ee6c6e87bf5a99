import type { Subjects } from '@authz/protocol';
import type { Logger, NatsConnection } from '@authz/runtime';
import type { SharedCache } from '@authz/verifier';
import type { AuditReader } from './audit/reader.js';
import type { Engines } from './engines.js';
import type { ConfigMetrics } from './metrics.js';
import type { ResourceStore } from './store/kv-store.js';
import type { RevocationStore } from './store/revocation-store.js';

/** The Redis side of revocation: the shared cache and whether it can be written right now. */
export interface RevocationCache {
  cache: SharedCache;
  /** True when Redis is connected; a revocation while it is not is reported as incomplete. */
  ready(): boolean;
  /** Commands that failed since start (the cache turns failures into misses; this counts them). */
  failures(): number;
}

/** What the routes of the config service work with. Built once in `main.ts` (or by a test). */
export interface ConfigDeps {
  store: ResourceStore;
  /** Durable revocations (`authz_revocations`, DESIGN §11). */
  revocations: RevocationStore;
  engines: Engines;
  metrics: ConfigMetrics;
  logger: Logger;
  nc: NatsConnection;
  subjects: Subjects;
  /** Absent when `REDIS_URL` is not set: revocation then only reaches worker memory. */
  revocationCache?: RevocationCache;
  /** Readiness: NATS connected (not reconnecting) and the KV bucket open. */
  health(): { nats: boolean; kv: boolean };
  /** How long `POST /$check` waits for a worker, ms. */
  checkTimeoutMs: number;
  /** Reads the `AUTHZ_DECISIONS` stream for `GET /AuditEvent`; absent: that route answers 503. */
  audit?: AuditReader;
}
