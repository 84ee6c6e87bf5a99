import { hashToken, MAX_TOKEN_BYTES, type RevocationEntry, type TokenIntrospector } from '@authz/protocol';
import { LruMap } from './cache/lru.js';
import type { SharedCache } from './cache/shared-cache.js';
import { IntrospectorConfigError, InvalidTokenError } from './errors.js';
import {
  type CompiledIntrospector,
  type CompiledJwtIntrospector,
  compileIntrospector,
} from './introspector/compile.js';
import { DiscoveredJwks } from './jwks/discovery.js';
import { type KeyBinding, RemoteJwks } from './jwks/remote.js';
import { checkHeader, parseJwt } from './jwt/compact.js';
import { verifyWithCandidates } from './jwt/verify.js';
import type { VerificationKey } from './keys/signature.js';
import { IntrospectionClient, type OpaqueIntrospectorConfig } from './opaque/index.js';
import { OPAQUE_SHAPE, type TokenShape } from './opaque/routing.js';
import { RevocationList } from './revocation/list.js';
import { silentLogger, type VerifiedIdentity, type VerifierLogger, type VerifierMetrics } from './types.js';

/** Options of {@link TokenVerifier}; every member is optional. */
export interface TokenVerifierOptions {
  /** cluster-wide cache (Redis) for key sets and introspection results; without it, memory only */
  sharedCache?: SharedCache;
  logger?: VerifierLogger;
  metrics?: VerifierMetrics;
  /** hosts allowed over plain http besides loopback (`AUTHZ_INSECURE_HOSTS`) */
  insecureHosts?: readonly string[];
  /** clock in ms since the epoch, for tests; default `Date.now` */
  now?: () => number;
  /** deadline of one key-set fetch or introspection call, ms; default 2000 */
  fetchTimeoutMs?: number;
  /** bound of the in-process verified-token cache (LRU); default 100 000 */
  maxCachedTokens?: number;
  /** unknown-`kid` refetches happen at most once per key source per cooldown, cluster-wide; default 30 000 ms */
  jwksRefetchCooldownMs?: number;
  /** how long past `cache_ttl` a key set keeps serving while its origin is down; default 21 600 s (6 h) */
  maxStaleSeconds?: number;
}

/** Largest JWKS document accepted. */
export const MAX_JWKS_BYTES = 256 * 1024;

interface CachedVerification {
  readonly identity: VerifiedIdentity;
  /** ms; never beyond the token's `exp` */
  readonly expiresAt: number;
  /** the introspector that accepted it; a replaced or removed one invalidates the entry */
  readonly source: CompiledJwtIntrospector;
  /** for `jwks_uri` keys: the key that verified it, which must stay in the key set (DESIGN §11) */
  readonly binding: KeyBinding | undefined;
  /** the token's hash, to sweep the cache when a revocation arrives */
  readonly hash: string;
}

/**
 * Bearer token → verified identity (DESIGN §6 steps 1–3). A JWT goes to the `type: jwt`
 * introspectors whose `jwt.iss` equals its `iss`; anything else goes to the opaque introspectors
 * its `token_prefix` routes it to, and a JWT no jwt introspector trusts only to those listing its
 * issuer in `jwt_issuers` (DESIGN §11, `opaque/routing.ts`). Refusals are {@link InvalidTokenError} (401), "could not
 * check" is {@link VerifierUnavailableError} (503); a presented token that fails is never treated
 * as anonymous. Verified JWTs are cached in memory by token hash until the sooner of their `exp`
 * and a change of their introspector; failures are never cached.
 *
 * @example
 * const verifier = new TokenVerifier({ sharedCache: new RedisSharedCache(redis) });
 * verifier.setIntrospectors(introspectors); // every config revision
 * const identity = await verifier.verify(token);
 */
export class TokenVerifier {
  private readonly tokens: LruMap<string, CachedVerification>;
  private readonly revocations = new RevocationList();
  private readonly opaque: IntrospectionClient;
  private readonly jwks = new Map<string, RemoteJwks>();
  /** `jwt.discovery` key sources, by issuer */
  private readonly discovered = new Map<string, DiscoveredJwks>();
  private compiled = new Map<string, CompiledIntrospector>();
  private byIssuer = new Map<string, CompiledJwtIntrospector[]>();
  private readonly logger: VerifierLogger;
  private readonly metrics: VerifierMetrics;
  private readonly now: () => number;
  private readonly lookupKeys = (introspector: CompiledJwtIntrospector, kid: string | undefined) =>
    this.keysOf(introspector, kid);

  constructor(private readonly options: TokenVerifierOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? {};
    this.now = options.now ?? Date.now;
    this.tokens = new LruMap(options.maxCachedTokens ?? 100_000);
    this.opaque = new IntrospectionClient({
      sharedCache: options.sharedCache,
      logger: this.logger,
      metrics: this.metrics,
      now: this.now,
      insecureHosts: options.insecureHosts,
      timeoutMs: options.fetchTimeoutMs,
    });
  }

  /**
   * Installs the whole set of TokenIntrospectors of a config revision (both types). Invalid ones
   * are skipped and logged; unchanged ones keep their compiled form and cached tokens; tokens of
   * changed or removed ones are forgotten; key sets of `jwks_uri` ones are prefetched.
   */
  setIntrospectors(resources: readonly TokenIntrospector[]): void {
    const next = new Map<string, CompiledIntrospector>();
    for (const resource of resources) {
      const compiled = this.compileOne(resource);
      if (!compiled) continue;
      const previous = this.compiled.get(compiled.id);
      next.set(compiled.id, previous?.fingerprint === compiled.fingerprint ? previous : compiled);
    }
    const changed = [...this.compiled.values()].some((old) => next.get(old.id) !== old);
    this.compiled = next;
    this.byIssuer = new Map();
    const opaque: OpaqueIntrospectorConfig[] = [];
    for (const introspector of next.values()) {
      if (introspector.type === 'opaque') {
        opaque.push(introspector.opaque);
        continue;
      }
      const list = this.byIssuer.get(introspector.iss);
      if (list) list.push(introspector);
      else this.byIssuer.set(introspector.iss, [introspector]);
    }
    if (changed) this.tokens.sweep((entry) => next.get(entry.source.id) !== entry.source);
    this.syncKeySources();
    this.opaque.setIntrospectors(opaque);
  }

  /**
   * Bearer token → identity. Rejects with InvalidTokenError (401) or VerifierUnavailableError (503).
   * A cached token resolves with the same identity object each time: treat it as read-only.
   */
  verify(token: string): Promise<VerifiedIdentity> {
    if (
      token.length > MAX_TOKEN_BYTES ||
      (token.length * 3 > MAX_TOKEN_BYTES && Buffer.byteLength(token) > MAX_TOKEN_BYTES)
    ) {
      return Promise.reject(
        new InvalidTokenError(
          'ERR_TOKEN_TOO_LARGE',
          `The bearer token is larger than ${MAX_TOKEN_BYTES} bytes and was refused unread; tokens that large are not accepted.`,
        ),
      );
    }
    // The caller's cached() of this same token (a miss) hashed it a moment ago.
    const hash = this.lastMiss?.token === token ? this.lastMiss.hash : hashToken(token);
    this.lastMiss = undefined;
    const hit = this.lookup(hash);
    if (hit) return Promise.resolve(hit);
    this.metrics.cacheLookup?.('memory', 'token', false);
    return this.verifyUncached(token, hash);
  }

  /**
   * The identity of a token this verifier has already accepted and still trusts, without a
   * promise turn (the hot path of a repeated token); `undefined` means "call {@link verify}".
   * Same object as `verify` resolves with: treat it as read-only.
   */
  cached(token: string): VerifiedIdentity | undefined {
    if (token.length > MAX_TOKEN_BYTES) return undefined;
    const hash = hashToken(token);
    const hit = this.lookup(hash);
    if (hit === undefined) this.lastMiss = { token, hash };
    return hit;
  }

  /** The last token {@link cached} missed and its hash, so `verify` right after hashes it once. */
  private lastMiss: { token: string; hash: string } | undefined;

  private lookup(hash: string): VerifiedIdentity | undefined {
    const hit = this.tokens.get(hash);
    if (!hit) return undefined;
    if (
      hit.expiresAt > this.now() &&
      this.compiled.get(hit.source.id) === hit.source &&
      (hit.binding === undefined || hit.binding.source.stillHolds(hit.binding))
    ) {
      this.metrics.cacheLookup?.('memory', 'token', true);
      return hit.identity;
    }
    this.tokens.delete(hash);
    return undefined;
  }

  /**
   * Puts a durable revocation (stored under `key` in `authz_revocations`) in force: from now on
   * the token, or every token of the subject issued at or before `before`, is refused with
   * `ERR_TOKEN_REVOKED`. Cached verifications it covers are dropped at once, so a cached token's
   * hot path never has to consult the list.
   */
  applyRevocation(key: string, entry: RevocationEntry): void {
    this.revocations.apply(key, entry);
    if (entry.kind === 'token') {
      this.tokens.delete(entry.token_hash);
      void this.opaque.revoke(entry.token_hash).catch(() => {
        // Redis is a cache; the refusal does not depend on clearing it.
      });
      return;
    }
    this.tokens.sweep((cached) => this.revocations.refuses(cached.hash, cached.identity));
  }

  /**
   * Forgets everything cached for the token with this hash (the config service's broadcast hint:
   * the durable refusal is {@link applyRevocation}).
   */
  async revoke(tokenHash: string): Promise<void> {
    this.tokens.delete(tokenHash);
    await this.opaque.revoke(tokenHash);
  }

  /** Lifts the revocation stored under `key` (deleted from the bucket). */
  removeRevocation(key: string): void {
    this.revocations.remove(key);
  }

  /** Drops revocations whose tokens could no longer be valid (`expires_at` passed). */
  pruneRevocations(): void {
    this.revocations.prune(Math.floor(this.now() / 1000));
  }

  /** How many revocations are in force (a gauge). */
  get revocationCount(): number {
    return this.revocations.size;
  }

  /** Drops caches and key sources; the verifier must not be used afterwards. */
  close(): void {
    this.tokens.clear();
    for (const source of this.jwks.values()) source.close();
    this.jwks.clear();
    this.opaque.close();
  }

  private async verifyUncached(token: string, hash: string): Promise<VerifiedIdentity> {
    const parsed = parseJwt(token);
    if (!parsed) return this.introspectOpaque(token, hash, OPAQUE_SHAPE);
    const iss = parsed.payload.iss;
    const candidates = typeof iss === 'string' ? this.byIssuer.get(iss) : undefined;
    // A JWT no jwt introspector trusts goes only where the configuration routes it (DESIGN §11).
    if (!candidates) return this.introspectOpaque(token, hash, { kind: 'jwt', iss });
    const alg = checkHeader(parsed.header);
    const accepted = await verifyWithCandidates(parsed, alg, candidates, this.lookupKeys, this.now());
    const identity: VerifiedIdentity = {
      kind: 'jwt',
      introspector: accepted.introspector.id,
      claims: parsed.payload,
      exp: accepted.exp,
    };
    // Checked after the last await: a revocation that arrived meanwhile is seen (DESIGN §11).
    this.refuseRevoked(hash, identity);
    const expiresAt = accepted.exp * 1000;
    const { introspector } = accepted;
    // The introspector may have been replaced while keys were being fetched: then do not cache.
    if (expiresAt > this.now() && this.compiled.get(introspector.id) === introspector) {
      const source = introspector.discovery
        ? this.discovered.get(introspector.iss)
        : introspector.jwksUri === undefined
          ? undefined
          : this.jwks.get(introspector.jwksUri);
      const binding = source?.bind(accepted.key);
      this.tokens.set(hash, { identity, expiresAt, source: introspector, binding, hash });
    }
    return identity;
  }

  private introspectOpaque(token: string, hash: string, shape: TokenShape): Promise<VerifiedIdentity> {
    return this.opaque.introspect(token, hash, shape).then((identity) => {
      this.refuseRevoked(hash, identity);
      return identity;
    });
  }

  private refuseRevoked(hash: string, identity: VerifiedIdentity): void {
    if (!this.revocations.refuses(hash, identity)) return;
    throw new InvalidTokenError(
      'ERR_TOKEN_REVOKED',
      'The token has been revoked (POST /$revoke, by token or by subject); sign in again to get a new token.',
      { introspector: identity.introspector },
    );
  }

  private keysOf(
    introspector: CompiledJwtIntrospector,
    kid: string | undefined,
  ): readonly VerificationKey[] | Promise<readonly VerificationKey[]> {
    if (introspector.keys) {
      // Configured keys rarely carry a kid: one without a kid fits any token.
      return kid === undefined
        ? introspector.keys
        : introspector.keys.filter((k) => k.kid === undefined || k.kid === kid);
    }
    const source = introspector.discovery
      ? this.discovered.get(introspector.iss)
      : this.jwks.get(introspector.jwksUri as string);
    if (!source) throw new Error(`no key source for ${introspector.id}`); // unreachable: synced with the config
    return source.keysFor(kid, introspector.id);
  }

  private compileOne(resource: TokenIntrospector): CompiledIntrospector | undefined {
    try {
      return compileIntrospector(resource, { insecureHosts: this.options.insecureHosts });
    } catch (err) {
      if (!(err instanceof IntrospectorConfigError)) throw err;
      this.logger.warn(
        { introspector: resource.id, issues: err.issues },
        'skipped an invalid TokenIntrospector',
      );
      return undefined;
    }
  }

  /** One RemoteJwks per `jwks_uri` in use; new ones are prefetched, unused ones dropped. */
  private syncKeySources(): void {
    const ttlByUri = new Map<string, number>();
    for (const introspector of this.compiled.values()) {
      if (introspector.type !== 'jwt' || introspector.jwksUri === undefined) continue;
      const ttl = introspector.cacheTtlSeconds * 1000;
      ttlByUri.set(introspector.jwksUri, Math.min(ttl, ttlByUri.get(introspector.jwksUri) ?? ttl));
    }
    for (const [uri, source] of this.jwks) {
      if (ttlByUri.has(uri)) continue;
      source.close();
      this.jwks.delete(uri);
    }
    for (const [uri, ttlMs] of ttlByUri) {
      let source = this.jwks.get(uri);
      if (source) source.setTtl(ttlMs);
      else {
        source = this.createKeySource(uri, ttlMs);
        this.jwks.set(uri, source);
      }
      source.prefetch();
    }
    this.syncDiscoveredSources();
  }

  /** One DiscoveredJwks per `jwt.discovery` issuer, kept in step like the `jwks_uri` sources. */
  private syncDiscoveredSources(): void {
    const ttlByIssuer = new Map<string, number>();
    for (const introspector of this.compiled.values()) {
      if (introspector.type !== 'jwt' || !introspector.discovery) continue;
      const ttl = introspector.cacheTtlSeconds * 1000;
      ttlByIssuer.set(introspector.iss, Math.min(ttl, ttlByIssuer.get(introspector.iss) ?? ttl));
    }
    for (const [iss, source] of this.discovered) {
      if (ttlByIssuer.has(iss)) continue;
      source.close();
      this.discovered.delete(iss);
    }
    const { options } = this;
    for (const [iss, ttlMs] of ttlByIssuer) {
      let source = this.discovered.get(iss);
      if (source) source.setTtl(ttlMs);
      else {
        source = new DiscoveredJwks({
          issuer: iss,
          ttlMs,
          maxStaleMs: (options.maxStaleSeconds ?? 21_600) * 1000,
          fetchTimeoutMs: options.fetchTimeoutMs ?? 2000,
          insecureHosts: options.insecureHosts ?? [],
          createKeySource: (uri, ttl) => this.createKeySource(uri, ttl),
          logger: this.logger,
          now: this.now,
        });
        this.discovered.set(iss, source);
      }
      source.prefetch();
    }
  }

  private createKeySource(uri: string, ttlMs: number): RemoteJwks {
    const { options } = this;
    return new RemoteJwks({
      uri,
      ttlMs,
      maxStaleMs: (options.maxStaleSeconds ?? 21_600) * 1000,
      cooldownMs: options.jwksRefetchCooldownMs ?? 30_000,
      fetchTimeoutMs: options.fetchTimeoutMs ?? 2000,
      maxBytes: MAX_JWKS_BYTES,
      sharedCache: options.sharedCache,
      logger: this.logger,
      metrics: this.metrics,
      now: this.now,
    });
  }
}
