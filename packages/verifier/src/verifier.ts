import { hashToken, MAX_TOKEN_BYTES, type RevocationEntry, type TokenIntrospector } from '@authz/protocol';
import { LruMap } from './cache/lru.js';
import { MemorySharedCache } from './cache/memory-shared-cache.js';
import { IntrospectorConfigError, InvalidTokenError } from './errors.js';
import {
  type CompiledIntrospector,
  type CompiledJwtIntrospector,
  compileIntrospector,
} from './introspector/compile.js';
import { KeySources } from './jwks/key-sources.js';
import type { KeyBinding } from './jwks/remote.js';
import { checkHeader, parseJwt } from './jwt/compact.js';
import { verifyWithCandidates } from './jwt/verify.js';
import { IntrospectionClient, type OpaqueIntrospectorConfig } from './opaque/index.js';
import { OPAQUE_SHAPE, type TokenShape } from './opaque/routing.js';
import { RevocationList } from './revocation/list.js';
import {
  silentLogger,
  type TokenVerifierOptions,
  type VerifiedIdentity,
  type VerifiedToken,
  type VerifierLogger,
  type VerifierMetrics,
} from './types.js';

/** One verified token in the cache: it owns what is derived from it. */
interface CachedVerification<D> {
  readonly identity: VerifiedIdentity;
  derived: D | undefined;
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
export class TokenVerifier<D = undefined> {
  private readonly tokens: LruMap<string, CachedVerification<D>>;
  private readonly derive: (identity: VerifiedIdentity) => D;
  private readonly revocations = new RevocationList();
  private readonly opaque: IntrospectionClient;
  private readonly keySources: KeySources;
  private compiled = new Map<string, CompiledIntrospector>();
  private byIssuer = new Map<string, CompiledJwtIntrospector[]>();
  private readonly logger: VerifierLogger;
  private readonly metrics: VerifierMetrics;
  private readonly now: () => number;
  private readonly lookupKeys = (introspector: CompiledJwtIntrospector, kid: string | undefined) =>
    this.keySources.keysFor(introspector, kid);

  constructor(private readonly options: TokenVerifierOptions<D> = {}) {
    this.derive = options.derive ?? (() => undefined as D);
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? {};
    this.now = options.now ?? Date.now;
    this.tokens = new LruMap(options.maxCachedTokens ?? 100_000);
    const sharedCache = options.sharedCache ?? new MemorySharedCache({ now: this.now });
    this.keySources = new KeySources({
      sharedCache,
      logger: this.logger,
      metrics: this.metrics,
      now: this.now,
      insecureHosts: options.insecureHosts ?? [],
      fetchTimeoutMs: options.fetchTimeoutMs ?? 2000,
      cooldownMs: options.jwksRefetchCooldownMs ?? 30_000,
      maxStaleMs: (options.maxStaleSeconds ?? 21_600) * 1000,
    });
    this.opaque = new IntrospectionClient({
      sharedCache,
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
    this.keySources.sync(next.values());
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
    if (hit) return Promise.resolve(hit.identity);
    this.metrics.cacheLookup?.('memory', 'token', false);
    return this.verifyUncached(token, hash);
  }

  /**
   * A token this verifier has already accepted and still trusts, without a promise turn (the hot
   * path of a repeated token), with its derived form; `undefined` means "call {@link verify}".
   * `identity` is the object `verify` resolves with: treat it as read-only.
   */
  cached(token: string): VerifiedToken<D> | undefined {
    if (token.length > MAX_TOKEN_BYTES) return undefined;
    const hash = hashToken(token);
    const hit = this.lookup(hash);
    if (hit === undefined) {
      this.lastMiss = { token, hash };
      return undefined;
    }
    if (hit.derived === undefined) hit.derived = this.derive(hit.identity);
    return hit as VerifiedToken<D>;
  }

  /** The last token {@link cached} missed and its hash, so `verify` right after hashes it once. */
  private lastMiss: { token: string; hash: string } | undefined;

  private lookup(hash: string): CachedVerification<D> | undefined {
    const hit = this.tokens.get(hash);
    if (!hit) return undefined;
    if (
      hit.expiresAt > this.now() &&
      this.compiled.get(hit.source.id) === hit.source &&
      (hit.binding === undefined || hit.binding.source.stillHolds(hit.binding))
    ) {
      this.metrics.cacheLookup?.('memory', 'token', true);
      return hit;
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
    this.keySources.close();
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
      const binding = this.keySources.bind(introspector, accepted.key);
      this.tokens.set(hash, { identity, derived: undefined, expiresAt, source: introspector, binding, hash });
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
}
