import type { RevocationEntry } from '@authz/protocol';
import type { VerifiedIdentity } from '../types.js';

/**
 * The revocations in force, in memory (DESIGN §11). Fed from the durable `authz_revocations`
 * bucket by the worker's watch; {@link TokenVerifier} asks it before caching or returning any
 * identity, and sweeps its cache when an entry arrives, so a cached token's hot path does not
 * consult it at all. Entries past their `expires_at` are dropped on {@link prune} (the token could
 * no longer be valid anyway).
 */
export class RevocationList {
  /** token hash → expires_at (s) */
  private readonly tokens = new Map<string, number>();
  /** JSON [iss, sub] → newest `before` (s) and its expiry */
  private readonly subjects = new Map<string, { before: number; expiresAt: number }>();
  /** sub → newest `before` over every issuer: for opaque responses that name no `iss` */
  private readonly subs = new Map<string, { before: number; expiresAt: number }>();
  /** KV key → entry, so a deletion seen on the watch can be undone exactly */
  private readonly byKey = new Map<string, RevocationEntry>();

  get size(): number {
    return this.byKey.size;
  }

  /** Adds (or replaces) the entry stored under `key`. */
  apply(key: string, entry: RevocationEntry): void {
    this.remove(key);
    this.byKey.set(key, entry);
    this.index(entry);
  }

  /** Forgets the entry under `key` (deleted or purged from the bucket). */
  remove(key: string): void {
    const old = this.byKey.get(key);
    if (!old) return;
    this.byKey.delete(key);
    if (old.kind === 'token') this.tokens.delete(old.token_hash);
    else this.reindexSubjects();
  }

  /** Drops entries whose tokens can no longer be valid. */
  prune(nowSeconds: number): void {
    let subjectsChanged = false;
    for (const [key, entry] of this.byKey) {
      if (entry.expires_at > nowSeconds) continue;
      this.byKey.delete(key);
      if (entry.kind === 'token') this.tokens.delete(entry.token_hash);
      else subjectsChanged = true;
    }
    if (subjectsChanged) this.reindexSubjects();
  }

  /**
   * Whether the token with this hash, accepted as `identity`, is revoked: by its hash, or by a
   * subject revocation of its `iss`/`sub` (DESIGN §11). A JWT is covered when its `iat` is at or
   * before the revocation's `before`, or it has no `iat`. An opaque result is covered when its
   * `iat` is, or — without `iat` — when the endpoint's answer is as old as the revocation: cached
   * results are dropped, a fresh answer from the endpoint decides. An opaque response without
   * `iss` matches the `sub` of any issuer (refusing too much rather than too little).
   */
  refuses(tokenHash: string, identity: VerifiedIdentity): boolean {
    if (this.byKey.size === 0) return false;
    if (this.tokens.has(tokenHash)) return true;
    if (this.subjects.size === 0) return false;
    const { iss, sub, iat } = identity.claims;
    if (typeof sub !== 'string') return false;
    const found =
      typeof iss === 'string' ? this.subjects.get(JSON.stringify([iss, sub])) : this.subs.get(sub);
    if (!found) return false;
    if (typeof iat === 'number' && Number.isFinite(iat)) return iat <= found.before;
    if (identity.kind === 'opaque' && identity.checkedAt !== undefined) {
      return identity.checkedAt < (found.before + 1) * 1000;
    }
    return true;
  }

  private index(entry: RevocationEntry): void {
    if (entry.kind === 'token') {
      this.tokens.set(entry.token_hash, entry.expires_at);
      return;
    }
    const mark = { before: entry.before, expiresAt: entry.expires_at };
    const key = JSON.stringify([entry.iss, entry.sub]);
    const had = this.subjects.get(key);
    if (!had || had.before < mark.before) this.subjects.set(key, mark);
    const bySub = this.subs.get(entry.sub);
    if (!bySub || bySub.before < mark.before) this.subs.set(entry.sub, mark);
  }

  private reindexSubjects(): void {
    this.subjects.clear();
    this.subs.clear();
    for (const entry of this.byKey.values()) if (entry.kind === 'subject') this.index(entry);
  }
}
