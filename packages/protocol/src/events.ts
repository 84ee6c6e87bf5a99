import { type Static, Type } from '@sinclair/typebox';
import { TokenBinding, VERDICT_FIELDS } from './reply.js';

/** One event per decision on `authz.v1.decisions` (DESIGN §5, §14). Never a token or secret. */
export const DecisionEvent = Type.Object(
  {
    /** ISO 8601 time of the decision */
    time: Type.String(),
    request_id: Type.String(),
    method: Type.String(),
    /** path and query, with credential-like query parameters redacted */
    uri: Type.String(),
    ...VERDICT_FIELDS,
    subject: Type.Optional(Type.String()),
    user: Type.Optional(Type.String()),
    /** The OAuth client the token was issued to, when known (DESIGN §14). */
    client: Type.Optional(Type.String()),
    introspector: Type.Optional(Type.String()),
    /** sender binding of the token (DESIGN §13): `dpop`, `mtls`; never the proof */
    binding: Type.Optional(TokenBinding),
    /** worker-side decision latency, milliseconds */
    latency: Type.Number({ minimum: 0 }),
    revision: Type.Optional(Type.Integer({ minimum: 0 })),
    worker: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type DecisionEvent = Static<typeof DecisionEvent>;

/** Broadcast on `authz.v1.revoke`: forget everything cached for this token. */
export const RevokeEvent = Type.Object(
  {
    /** `hashToken` of the revoked token: SHA-256, base64url (43 characters). */
    token_hash: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  },
  { additionalProperties: false },
);
export type RevokeEvent = Static<typeof RevokeEvent>;

/**
 * Broadcast by each worker on `authz.v1.stats` once a second (and once at start and on stop): how
 * many decision events it has published since it started. The audit trail's loss accounting
 * compares these counts with what the `AUTHZ_DECISIONS` stream stored, without receiving every
 * event itself (README "Audit").
 */
export const WorkerStats = Type.Object(
  {
    /** The worker's id (`<host>:<pid>`), as in decision events' `worker`. */
    worker: Type.String({ minLength: 1, maxLength: 256 }),
    /** Decision events published on `authz.v1.decisions` since the worker started. */
    published: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type WorkerStats = Static<typeof WorkerStats>;
