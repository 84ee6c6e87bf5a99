import { InvalidTokenError } from '../errors.js';
import { clip } from './compact.js';

/** The claim rules of one introspector, compiled from `jwt.aud` and `jwt.clock_skew`. */
export interface ClaimRules {
  /** id of the introspector, named in messages */
  readonly introspector: string;
  /** accepted audiences; the token's `aud` must contain one (RFC 7519 §4.1.3). Unset: not checked. */
  readonly audiences?: readonly string[];
  readonly clockSkewSeconds: number;
  /** `jwt.max_lifetime`: how far ahead `exp` may lie, and how far after `iat` (DESIGN §11) */
  readonly maxLifetimeSeconds: number;
}

/**
 * Checks the registered time and audience claims of an already signature-checked payload and
 * returns its `exp`. `exp` is required (DESIGN §6: a bearer token that never expires is refused);
 * the skew widens each window by the same amount, with jose's boundaries: expired once
 * `exp <= now - skew`, early while `nbf > now + skew`, from the future while `iat > now + skew`.
 */
export function checkClaims(
  payload: Readonly<Record<string, unknown>>,
  rules: ClaimRules,
  nowMs: number,
): number {
  const now = Math.floor(nowMs / 1000);
  const skew = rules.clockSkewSeconds;
  const at = { introspector: rules.introspector };
  const exp = numericDate(payload, 'exp', rules.introspector);
  if (exp === undefined) {
    throw new InvalidTokenError(
      'ERR_JWT_CLAIM_MISSING',
      `The token has no exp claim; TokenIntrospector/${rules.introspector} only accepts tokens that expire.`,
      { ...at, claim: 'exp' },
    );
  }
  if (exp <= now - skew) {
    throw new InvalidTokenError(
      'ERR_JWT_EXPIRED',
      `The token expired at ${isoTime(exp)} (clock skew allowed: ${skew} s); get a new token.`,
      { ...at, claim: 'exp' },
    );
  }
  const nbf = numericDate(payload, 'nbf', rules.introspector);
  const iat = numericDate(payload, 'iat', rules.introspector);
  checkLifetime(exp, iat, now, rules);
  if (nbf !== undefined && nbf > now + skew) {
    throw new InvalidTokenError(
      'ERR_JWT_NOT_YET_VALID',
      `The token is not valid before ${isoTime(nbf)} (clock skew allowed: ${skew} s); check the issuer's clock or retry later.`,
      { ...at, claim: 'nbf' },
    );
  }
  if (iat !== undefined && iat > now + skew) {
    throw new InvalidTokenError(
      'ERR_JWT_ISSUED_IN_FUTURE',
      `The token claims to be issued at ${isoTime(iat)}, in the future beyond the allowed clock skew of ${skew} s; check the issuer's clock.`,
      { ...at, claim: 'iat' },
    );
  }
  if (rules.audiences) checkAudience(payload.aud, rules.audiences, rules.introspector);
  return exp;
}

/**
 * DESIGN §11 "no token is eternal": `exp` at most `max_lifetime` (+ skew) ahead of now, and, when
 * `iat` is given, at most `max_lifetime` after it — so a token issued before a subject revocation
 * expires before the revocation entry is pruned (its retention is `max_lifetime` + skew).
 */
function checkLifetime(exp: number, iat: number | undefined, now: number, rules: ClaimRules): void {
  const limit = rules.maxLifetimeSeconds;
  const ahead = exp - now > limit + rules.clockSkewSeconds;
  if (!ahead && (iat === undefined || exp - iat <= limit)) return;
  const why = ahead
    ? `expires at ${isoTime(exp)}`
    : `lives ${Math.round(exp - (iat as number))} s from iat to exp`;
  throw new InvalidTokenError(
    'ERR_JWT_LIFETIME_EXCEEDED',
    `The token ${why}, longer than the ${limit} s TokenIntrospector/${rules.introspector} allows (jwt.max_lifetime); get a shorter-lived token or raise jwt.max_lifetime.`,
    { introspector: rules.introspector, claim: 'exp' },
  );
}

function numericDate(
  payload: Readonly<Record<string, unknown>>,
  claim: string,
  introspector: string,
): number | undefined {
  const value = payload[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidTokenError(
      'ERR_JWT_CLAIM_INVALID',
      `The token's ${claim} claim is not a number of seconds since 1970 (RFC 7519 NumericDate).`,
      { introspector, claim },
    );
  }
  return value;
}

function checkAudience(aud: unknown, accepted: readonly string[], introspector: string): void {
  const at = { introspector, claim: 'aud' };
  if (aud === undefined) {
    throw new InvalidTokenError(
      'ERR_JWT_CLAIM_MISSING',
      `The token has no aud claim; TokenIntrospector/${introspector} only accepts tokens for ${quoteList(accepted)}.`,
      at,
    );
  }
  const presented = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : undefined;
  if (!presented || presented.some((a) => typeof a !== 'string')) {
    throw new InvalidTokenError(
      'ERR_JWT_CLAIM_INVALID',
      "The token's aud claim is neither a string nor a list of strings.",
      at,
    );
  }
  if (!presented.some((a) => accepted.includes(a as string))) {
    throw new InvalidTokenError(
      'ERR_JWT_AUDIENCE_MISMATCH',
      `The token is for ${quoteList(presented as string[])}, but TokenIntrospector/${introspector} only accepts ${quoteList(accepted)}; request a token for this audience.`,
      at,
    );
  }
}

function quoteList(values: readonly string[]): string {
  const shown = values.slice(0, 3).map((v) => JSON.stringify(clip(v, 80)));
  return values.length > 3 ? `${shown.join(', ')} and ${values.length - 3} more` : shown.join(', ');
}

/** An ISO-8601 time for a NumericDate, safe for absurd values. */
export function isoTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime())
    ? `${seconds} (seconds since 1970)`
    : date.toISOString().replace('.000Z', 'Z');
}
