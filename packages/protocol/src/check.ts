import * as crypto from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import { MAX_CHECK_HEADERS } from './limits.js';

/** A header value as gateways see it; repeated headers may arrive as a list. */
const HeaderValue = Type.Union([
  Type.String({ maxLength: 65536 }),
  Type.Array(Type.String({ maxLength: 65536 }), { maxItems: 64 }),
]);

/** "May this HTTP request pass?" — the body of `authz.v1.check`. */
export const CheckRequest = Type.Object(
  {
    method: Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z-]+$' }),
    uri: Type.String({ minLength: 1, maxLength: 16384 }),
    headers: Type.Optional(Type.Record(Type.String(), HeaderValue, { maxProperties: MAX_CHECK_HEADERS })),
    remote_addr: Type.Optional(Type.String({ maxLength: 256 })),
    scheme: Type.Optional(Type.String({ maxLength: 16 })),
    body: Type.Optional(Type.Unknown()),
    explain: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
);
export type CheckRequest = Static<typeof CheckRequest>;

/** Decision statuses (DESIGN §5). */
export type CheckStatus = 200 | 400 | 401 | 403 | 503;

/** RFC 6750 §3.1 error codes carried on 401. */
export type BearerErrorCode = 'invalid_token' | 'invalid_request';

/** Who the request was authenticated as. Never contains the token itself. */
export interface Identity {
  /** `basic`: a Client authenticated by HTTP Basic (DESIGN §12), no token */
  kind: 'jwt' | 'opaque' | 'basic';
  /** id of the TokenIntrospector that accepted the token (absent for `basic`) */
  introspector?: string;
  iss?: string;
  sub?: string;
  /** User id (`box_user` claim, else `sub`) */
  user?: string;
  /** client id (`client_id` / `azp` / `cid` claim, or the Basic client) when present */
  client?: string;
  /** expiry, seconds since the epoch */
  exp?: number;
}

/** Why one candidate policy did or did not allow, when `explain` is asked for. */
export interface ExplainEntry {
  policy: string;
  engine: string;
  result: boolean;
  /** A sentence on why the policy failed (or was skipped). */
  detail?: string;
  /** Path into the request context of the first mismatch (matcho), e.g. `request-method`. */
  path?: string;
  expected?: unknown;
  actual?: unknown;
  /** json-schema: ajv's errors. */
  errors?: unknown[];
  /** complex: the nested rules evaluated. */
  children?: ExplainEntry[];
}

/** The answer to a {@link CheckRequest}. `allow` is true only with status 200. */
export interface CheckReply {
  allow: boolean;
  status: CheckStatus;
  /** A sentence a person can act on. */
  reason: string;
  /** RFC 6750 error code, on 401 only. */
  error?: BearerErrorCode;
  /** id of the AccessPolicy that allowed. */
  policy?: string;
  identity?: Identity;
  /** KV revision of the configuration the decision used. */
  revision?: number;
  explain?: ExplainEntry[];
  request_id?: string;
}

/** One event per decision on `authz.v1.decisions`. Never a token or secret. */
export interface DecisionEvent {
  /** ISO 8601 time of the decision */
  time: string;
  request_id: string;
  method: string;
  /** path and query, with credential-like query parameters redacted */
  uri: string;
  allow: boolean;
  status: CheckStatus;
  reason: string;
  error?: BearerErrorCode;
  policy?: string;
  subject?: string;
  user?: string;
  introspector?: string;
  /** worker-side decision latency, milliseconds */
  latency: number;
  revision?: number;
  worker?: string;
}

/** Broadcast on `authz.v1.revoke`: forget everything cached for this token. */
export interface RevokeEvent {
  /** {@link hashToken} of the revoked token */
  token_hash: string;
}

/**
 * The one way a token is named in caches, Redis keys and revocation events: a SHA-256 of the
 * whole token, base64url. Never the token, never its signature alone.
 */
export function hashToken(token: string): string {
  return sha256(token);
}

// crypto.hash (Node ≥ 20.12) is the one-shot form: half the cost of a Hash object per token.
const sha256: (input: string) => string =
  typeof crypto.hash === 'function'
    ? (input) => crypto.hash('sha256', input, 'base64url')
    : (input) => crypto.createHash('sha256').update(input).digest('base64url');
