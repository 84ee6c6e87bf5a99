import {
  DEFAULT_MAX_LIFETIME_SECONDS,
  hashToken,
  MAX_TOKEN_BYTES,
  type RevocationEntry,
  type RevokeEvent,
  type TokenIntrospector,
} from '@authz/protocol';
import type { ConfigDeps } from '../deps.js';
import { readParsedBody } from '../http/body.js';
import { ApiError } from '../http/errors.js';
import type { Route } from '../http/router.js';

/** Largest revoke body: a token plus form/JSON framing. */
const MAX_REVOKE_BODY = MAX_TOKEN_BYTES + 4096;
/** Introspectors read to size a subject revocation's retention; far above any real deployment. */
const MAX_INTROSPECTORS = 10_000;
/** The largest `jwt.clock_skew`: a revoked JWT stays refused this long past its `exp`. */
const MAX_SKEW_SECONDS = 3600;
/**
 * How long a revoked token that is not a JWT with `exp` stays refused. An opaque token's lifetime
 * is the endpoint's secret; after this, the endpoint's answer decides again (README: limits).
 */
export const OPAQUE_REVOCATION_SECONDS = 7 * 86400;

/**
 * `POST /$revoke` (DESIGN §11): `{"token"}` (or form `token=`) refuses that token, `{"iss",
 * "sub"}` every token of that subject issued until now. The revocation is written to the
 * durable JetStream bucket `authz_revocations` before the reply, and workers watch it: it reaches
 * every worker within milliseconds and outlives restarts of workers, this service and Redis.
 * The token itself is hashed at once and never logged, stored or published.
 */
export function revokeRoute(deps: ConfigDeps): Route {
  return {
    method: 'POST',
    path: '/$revoke',
    async handle(ctx) {
      const { value } = await readParsedBody(ctx.req, MAX_REVOKE_BODY, ['form', 'json']);
      const entry = await revocationFor(deps, value, Date.now());
      let revision: number;
      try {
        revision = await deps.revocations.put(entry);
      } catch (err) {
        throw new ApiError(
          'ERR_UNAVAILABLE',
          'the revocation could not be stored in JetStream; nothing was revoked, retry',
          { cause: err },
        );
      }
      // A hint on `<prefix>.v1.revoke` (wire.RevokeEvent): workers drop cached results at once;
      // the durable entry above is what keeps the token refused.
      if (entry.kind === 'token') {
        const event: RevokeEvent = { token_hash: entry.token_hash };
        deps.nc.publish(deps.subjects.revoke, JSON.stringify(event));
      }
      deps.metrics.revocations.inc();
      const { kind, revoked_at: _at, ...named } = entry;
      const logged =
        entry.kind === 'token' ? { token_hash: entry.token_hash } : { iss: entry.iss, sub: entry.sub };
      ctx.log.info({ kind, revision, ...logged }, kind === 'token' ? 'token revoked' : 'subject revoked');
      return { status: 200, body: { revoked: true, ...named, revision } };
    },
  };
}

/** The entry a revoke body asks for, or a 400 saying what a body must name. */
async function revocationFor(deps: ConfigDeps, value: unknown, nowMs: number): Promise<RevocationEntry> {
  const body = (value !== null && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const now = Math.floor(nowMs / 1000);
  const { token, iss, sub } = body;
  const named = [token, iss, sub].filter((v) => v !== undefined).length;
  if (typeof token === 'string' && iss === undefined && sub === undefined) {
    if (token.length === 0 || token.length > MAX_TOKEN_BYTES) throw nothingNamed('token');
    return {
      kind: 'token',
      token_hash: hashToken(token),
      revoked_at: now,
      expires_at: tokenExpiry(token, now),
    };
  }
  if (token === undefined && isText(iss) && isText(sub)) {
    const lifetime = await longestLifetime(deps);
    return {
      kind: 'subject',
      iss,
      sub,
      before: now,
      revoked_at: now,
      expires_at: now + lifetime + MAX_SKEW_SECONDS,
    };
  }
  throw nothingNamed(named === 0 ? undefined : token !== undefined ? 'token' : 'iss');
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 2048;

function nothingNamed(field: string | undefined): ApiError {
  const message =
    'the body must name what to revoke: {"token": "<token>"} (or form token=<token>), or {"iss": "<issuer>", "sub": "<subject>"} for every token of a subject';
  return new ApiError('ERR_BAD_REQUEST', message, {
    issues: [{ code: 'required', diagnostics: message, ...(field ? { expression: field } : {}) }],
  });
}

/**
 * When a revoked token can no longer be valid: a JWT's `exp` plus the largest clock skew (its
 * signature covers `exp`, so a forged one never verifies); anything else after
 * {@link OPAQUE_REVOCATION_SECONDS}. The payload is read unverified only to size retention.
 */
function tokenExpiry(token: string, now: number): number {
  const parts = token.split('.');
  if (parts.length === 3) {
    try {
      const exp = (
        JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as { exp?: unknown }
      ).exp;
      if (typeof exp === 'number' && Number.isFinite(exp))
        return Math.max(now, Math.ceil(exp)) + MAX_SKEW_SECONDS;
    } catch {
      // not a JWT payload: treated as opaque
    }
  }
  return now + OPAQUE_REVOCATION_SECONDS;
}

/**
 * The longest `jwt.max_lifetime` configured (default 86 400 s): a token of the subject issued
 * before now expires within it (the verifier refuses `exp - iat` beyond it), and so does every
 * cached opaque result (`cache_ttl` is at most 86 400 s).
 */
async function longestLifetime(deps: ConfigDeps): Promise<number> {
  const { items } = await deps.store.list('TokenIntrospector', MAX_INTROSPECTORS);
  let longest = DEFAULT_MAX_LIFETIME_SECONDS;
  for (const { resource } of items) {
    const lifetime = (resource as TokenIntrospector).jwt?.max_lifetime;
    if (typeof lifetime === 'number' && lifetime > longest) longest = lifetime;
  }
  return longest;
}
