import type { SharedCache } from '../cache/shared-cache.js';
import type { CompiledIntrospector, CompiledJwtIntrospector } from '../introspector/compile.js';
import type { VerificationKey } from '../keys/signature.js';
import type { VerifierLogger, VerifierMetrics } from '../types.js';
import { DiscoveredJwks } from './discovery.js';
import { type KeyBinding, RemoteJwks } from './remote.js';

/** Largest JWKS document accepted. */
export const MAX_JWKS_BYTES = 256 * 1024;

/** Settings every key source of a verifier shares. */
export interface KeySourcesOptions {
  sharedCache: SharedCache;
  logger: VerifierLogger;
  metrics: VerifierMetrics;
  now: () => number;
  insecureHosts: readonly string[];
  fetchTimeoutMs: number;
  cooldownMs: number;
  maxStaleMs: number;
}

/**
 * The keys of a verifier's jwt introspectors: configured ones, and the remote key sources — one {@link RemoteJwks} per
 * `jwks_uri` and one {@link DiscoveredJwks} per `jwt.discovery` issuer, kept in step with the
 * configuration (new ones prefetched, unused ones closed, `cache_ttl` the smallest of the
 * introspectors sharing a source).
 */
export class KeySources {
  private readonly jwks = new Map<string, RemoteJwks>();
  private readonly discovered = new Map<string, DiscoveredJwks>();

  constructor(private readonly options: KeySourcesOptions) {}

  /**
   * The keys a token with `kid` may be checked against: the introspector's configured keys, or
   * those of its key source (a promise when they must be fetched).
   */
  keysFor(
    introspector: CompiledJwtIntrospector,
    kid: string | undefined,
  ): readonly VerificationKey[] | Promise<readonly VerificationKey[]> {
    if (introspector.keys) {
      // Configured keys rarely carry a kid: one without a kid fits any token.
      return kid === undefined
        ? introspector.keys
        : introspector.keys.filter((k) => k.kid === undefined || k.kid === kid);
    }
    const source = this.sourceOf(introspector);
    if (!source) throw new Error(`no key source for ${introspector.id}`); // unreachable: synced with the config
    return source.keysFor(kid, introspector.id);
  }

  /** Ties a verification made with `key` to its key set (`undefined` for configured keys). */
  bind(introspector: CompiledJwtIntrospector, key: VerificationKey): KeyBinding | undefined {
    return this.sourceOf(introspector)?.bind(key);
  }

  /** Brings the sources in step with the introspectors of a config revision. */
  sync(compiled: Iterable<CompiledIntrospector>): void {
    const byUri = new Map<string, number>();
    const byIssuer = new Map<string, number>();
    for (const introspector of compiled) {
      if (introspector.type !== 'jwt') continue;
      const key = introspector.discovery ? introspector.iss : introspector.jwksUri;
      if (key === undefined) continue;
      const ttls = introspector.discovery ? byIssuer : byUri;
      const ttl = introspector.cacheTtlSeconds * 1000;
      ttls.set(key, Math.min(ttl, ttls.get(key) ?? ttl));
    }
    syncSources(this.jwks, byUri, (uri, ttlMs) => this.createKeySource(uri, ttlMs));
    syncSources(this.discovered, byIssuer, (issuer, ttlMs) => {
      const { maxStaleMs, fetchTimeoutMs, insecureHosts, logger, now } = this.options;
      return new DiscoveredJwks({
        issuer,
        ttlMs,
        maxStaleMs,
        fetchTimeoutMs,
        insecureHosts,
        createKeySource: (uri, ttl) => this.createKeySource(uri, ttl),
        logger,
        now,
      });
    });
  }

  /** Closes every source. */
  close(): void {
    for (const source of this.jwks.values()) source.close();
    for (const source of this.discovered.values()) source.close();
    this.jwks.clear();
    this.discovered.clear();
  }

  private sourceOf(introspector: CompiledJwtIntrospector): RemoteJwks | DiscoveredJwks | undefined {
    if (introspector.discovery) return this.discovered.get(introspector.iss);
    return introspector.jwksUri === undefined ? undefined : this.jwks.get(introspector.jwksUri);
  }

  private createKeySource(uri: string, ttlMs: number): RemoteJwks {
    const { options } = this;
    return new RemoteJwks({
      uri,
      ttlMs,
      maxStaleMs: options.maxStaleMs,
      cooldownMs: options.cooldownMs,
      fetchTimeoutMs: options.fetchTimeoutMs,
      maxBytes: MAX_JWKS_BYTES,
      sharedCache: options.sharedCache,
      logger: options.logger,
      metrics: options.metrics,
      now: options.now,
    });
  }
}

interface Source {
  setTtl(ttlMs: number): void;
  prefetch(): void;
  close(): void;
}

/** Closes the sources no longer wanted, creates the new ones, updates TTLs, prefetches all. */
function syncSources<S extends Source>(
  sources: Map<string, S>,
  wanted: ReadonlyMap<string, number>,
  create: (key: string, ttlMs: number) => S,
): void {
  for (const [key, source] of sources) {
    if (wanted.has(key)) continue;
    source.close();
    sources.delete(key);
  }
  for (const [key, ttlMs] of wanted) {
    let source = sources.get(key);
    if (source) source.setTtl(ttlMs);
    else {
      source = create(key, ttlMs);
      sources.set(key, source);
    }
    source.prefetch();
  }
}
