/** Default prefix of every NATS subject (`AUTHZ_SUBJECT_PREFIX`). */
export const DEFAULT_SUBJECT_PREFIX = 'authz';

/** Queue group the workers share, so each check is answered by exactly one worker. */
export const WORKER_QUEUE_GROUP = 'authz-workers';

/** JetStream KV bucket holding every resource; the config service is its only writer. */
export const CONFIG_BUCKET = 'authz_config';

/** NATS header carrying the request id from gateway to worker. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** NATS header carrying W3C trace context. */
export const TRACEPARENT_HEADER = 'traceparent';

/** The subjects of one deployment. */
export interface Subjects {
  /** request/reply: a {@link CheckRequest} in, a {@link CheckReply} out. */
  readonly check: string;
  /** fire-and-forget {@link DecisionEvent}s, one per decision. */
  readonly decisions: string;
  /** broadcast, once a second per worker: a {@link WorkerStats} (decision events published so far). */
  readonly stats: string;
  /** broadcast: drop cached verification results for a revoked token (payload: {@link RevokeEvent}). */
  readonly revoke: string;
}

/**
 * Subjects for a prefix.
 *
 * @example
 * subjects('authz').check // 'authz.v1.check'
 */
export function subjects(prefix: string = DEFAULT_SUBJECT_PREFIX): Subjects {
  return {
    check: `${prefix}.v1.check`,
    decisions: `${prefix}.v1.decisions`,
    revoke: `${prefix}.v1.revoke`,
    stats: `${prefix}.v1.stats`,
  };
}
