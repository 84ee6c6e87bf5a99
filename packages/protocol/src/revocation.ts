import { hashToken } from './token-hash.js';

/**
 * JetStream KV bucket of durable revocations (DESIGN §11), beside `authz_config` and replicated
 * like it. The config service is its only writer; every worker watches it. Keys are
 * {@link revocationKey}s, values {@link RevocationEntry} JSON.
 */
export const REVOCATION_BUCKET = 'authz_revocations';

/** Revocation of one token (JWT or opaque), named only by its {@link hashToken}. */
export interface TokenRevocation {
  readonly kind: 'token';
  readonly token_hash: string;
  /** seconds since the epoch */
  readonly revoked_at: number;
  /** seconds since the epoch: after this the token could no longer be valid anyway */
  readonly expires_at: number;
}

/** "Log out everywhere": every token of `sub` at `iss` issued at or before `before`. */
export interface SubjectRevocation {
  readonly kind: 'subject';
  readonly iss: string;
  readonly sub: string;
  /** seconds since the epoch; tokens with `iat <= before`, or without `iat`, are refused */
  readonly before: number;
  readonly revoked_at: number;
  readonly expires_at: number;
}

/** One value of the {@link REVOCATION_BUCKET}. */
export type RevocationEntry = TokenRevocation | SubjectRevocation;

/** KV key of an entry: `token.<hash>` or `subject.<sha256(iss, sub)>` (no raw value in a key). */
export function revocationKey(entry: RevocationEntry): string {
  if (entry.kind === 'token') return `token.${entry.token_hash}`;
  // The same SHA-256 (base64url) as a token's hash; node:crypto loads lazily (the console imports protocol).
  return `subject.${hashToken(JSON.stringify([entry.iss, entry.sub]))}`;
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isText = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;

/**
 * Parses a stored entry, or `undefined` when it is not one (a reader then ignores it and logs).
 * The bucket has one writer, so this is a guard against corruption, not an API boundary.
 */
export function parseRevocationEntry(value: unknown): RevocationEntry | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (!isTime(v.revoked_at) || !isTime(v.expires_at)) return undefined;
  if (v.kind === 'token' && isText(v.token_hash, 128)) {
    return { kind: 'token', token_hash: v.token_hash, revoked_at: v.revoked_at, expires_at: v.expires_at };
  }
  if (v.kind === 'subject' && isText(v.iss, 2048) && isText(v.sub, 2048) && isTime(v.before)) {
    return {
      kind: 'subject',
      iss: v.iss,
      sub: v.sub,
      before: v.before,
      revoked_at: v.revoked_at,
      expires_at: v.expires_at,
    };
  }
  return undefined;
}
