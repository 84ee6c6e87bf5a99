import { VerifierUnavailableError } from '../errors.js';
import { boundedFetch, checkOutboundUrl } from '../http/fetch.js';
import { clip } from '../jwt/compact.js';
import type { VerificationKey } from '../keys/signature.js';
import type { VerifierLogger } from '../types.js';
import { KeySourceError } from './failure.js';
import type { KeyBinding } from './remote.js';

/** Largest OpenID Provider configuration document read (they are a few KiB). */
export const MAX_DISCOVERY_BYTES = 64 * 1024;

/**
 * Where an issuer publishes its OpenID Provider configuration (OpenID Connect Discovery 1.0 §4):
 * the issuer with any trailing `/` removed, then `/.well-known/openid-configuration`.
 */
export function discoveryUrlOf(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** The key source a discovered issuer delegates to once it knows its `jwks_uri` (a RemoteJwks). */
export interface JwksKeySource {
  keysFor(kid: string | undefined, introspector: string): Promise<readonly VerificationKey[]>;
  /** ties a verification to `key` (DESIGN §11: the key must stay in the set) */
  bind(key: VerificationKey): KeyBinding;
  prefetch(): void;
  setTtl(ttlMs: number): void;
  close(): void;
}

/** Settings of one {@link DiscoveredJwks}. */
export interface DiscoveredJwksOptions {
  /** `jwt.iss`: the document's `issuer` must equal it exactly (Discovery §4.3) */
  issuer: string;
  /** refresh age of the document, as `cache_ttl` */
  ttlMs: number;
  /** how long past `ttlMs` a document keeps serving while its origin cannot be reached */
  maxStaleMs: number;
  fetchTimeoutMs: number;
  insecureHosts: readonly string[];
  /** makes the `jwks_uri` key source, with every rule of a configured one (shared cache, refetch, stale) */
  createKeySource: (jwksUri: string, ttlMs: number) => JwksKeySource;
  logger: VerifierLogger;
  now: () => number;
}

interface Discovered {
  jwksUri: string;
  fetchedAt: number;
}

/**
 * The keys of an issuer configured with `jwt.discovery: true`: its discovery document is fetched
 * under the same URL rules, size and time bounds as a JWKS, its `issuer` must equal `jwt.iss`
 * exactly, and its `jwks_uri` then serves keys like a configured one. The document is refreshed
 * at `cache_ttl` (one flight at a time) and served stale while its origin is down; a failure with
 * nothing usable is a 503 naming the document and what was wrong, never a pass.
 */
export class DiscoveredJwks {
  readonly location: string;
  private current: Discovered | undefined;
  private loading: Promise<Discovered> | undefined;
  private refreshing: Promise<void> | undefined;
  private lastFailure: { at: number; failure: KeySourceError } | undefined;
  private source: { jwksUri: string; keys: JwksKeySource } | undefined;

  constructor(private readonly options: DiscoveredJwksOptions) {
    this.location = discoveryUrlOf(options.issuer);
  }

  setTtl(ttlMs: number): void {
    this.options.ttlMs = ttlMs;
    this.source?.keys.setTtl(ttlMs);
  }

  /** Stops the discovered key source (the introspector was removed or changed). */
  close(): void {
    this.source?.keys.close();
    this.source = undefined;
  }

  /** Ties a verification to `key` in the discovered key set (undefined before one is loaded). */
  bind(key: VerificationKey): KeyBinding | undefined {
    return this.source?.keys.bind(key);
  }

  /** Loads the document (and through it the key set) ahead of the first token. */
  prefetch(): void {
    this.document().then(
      (doc) => this.keySource(doc.jwksUri).prefetch(),
      (err: unknown) =>
        this.options.logger.warn(
          { discovery: this.location, err: (err as Error).message },
          'could not prefetch a discovery document',
        ),
    );
  }

  /** Keys for `kid` from the discovered `jwks_uri`; 503 when the document is unusable. */
  async keysFor(kid: string | undefined, introspector: string): Promise<readonly VerificationKey[]> {
    let doc: Discovered;
    try {
      doc = await this.document();
    } catch (err) {
      throw new VerifierUnavailableError(
        'ERR_KEY_SOURCE_UNAVAILABLE',
        `The signing keys of TokenIntrospector/${introspector} could not be discovered: ${(err as Error).message}; try again later or fix the issuer's discovery document.`,
        { cause: err, introspector },
      );
    }
    return this.keySource(doc.jwksUri).keysFor(kid, introspector);
  }

  /** One key source per discovered `jwks_uri`; a document naming a new one replaces it. */
  private keySource(jwksUri: string): JwksKeySource {
    if (this.source?.jwksUri === jwksUri) return this.source.keys;
    this.source?.keys.close();
    const keys = this.options.createKeySource(jwksUri, this.options.ttlMs);
    this.source = { jwksUri, keys };
    return keys;
  }

  private async document(): Promise<Discovered> {
    const { now, ttlMs, maxStaleMs } = this.options;
    const doc = this.current;
    if (doc) {
      const age = now() - doc.fetchedAt;
      if (age < ttlMs) return doc;
      if (age <= ttlMs + maxStaleMs) {
        this.refreshInBackground();
        return doc;
      }
    }
    // Nothing usable: a dead or wrong origin is asked again only after a short pause.
    const failure = this.lastFailure;
    if (failure && now() - failure.at < Math.min(5000, ttlMs)) throw failure.failure;
    this.loading ??= this.fetchDocument().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private refreshInBackground(): void {
    this.refreshing ??= this.fetchDocument()
      .then(
        () => undefined,
        (err: unknown) =>
          this.options.logger.warn(
            { discovery: this.location, err: (err as Error).message },
            'discovery document unreachable; serving the last good one (stale-if-error)',
          ),
      )
      .finally(() => {
        this.refreshing = undefined;
      });
  }

  private async fetchDocument(): Promise<Discovered> {
    const { now } = this.options;
    try {
      const doc = { jwksUri: await this.readJwksUri(), fetchedAt: now() };
      this.current = doc;
      this.lastFailure = undefined;
      return doc;
    } catch (err) {
      const failure = KeySourceError.from(err);
      this.lastFailure = { at: now(), failure };
      // A document that now names another issuer is not a transient failure: stop trusting it.
      if (failure.code === 'issuer-mismatch') this.current = undefined;
      throw failure;
    }
  }

  /** GETs and checks the document; every rejection is a reason a person can act on. */
  private async readJwksUri(): Promise<string> {
    const { issuer, fetchTimeoutMs, insecureHosts } = this.options;
    const at = `the discovery document at ${this.location}`;
    const refused = checkOutboundUrl(this.location, insecureHosts);
    if (refused) throw new KeySourceError('refused-url', `${at} ${refused}`);
    let response: Awaited<ReturnType<typeof boundedFetch>>;
    try {
      response = await boundedFetch(this.location, {
        timeoutMs: fetchTimeoutMs,
        maxBytes: MAX_DISCOVERY_BYTES,
      });
    } catch (err) {
      throw new KeySourceError('unreachable', `${at} could not be fetched (${(err as Error).message})`, {
        cause: err,
      });
    }
    if (response.status !== 200)
      throw new KeySourceError('http-status', `${at} answered HTTP ${response.status}`);
    let doc: { issuer?: unknown; jwks_uri?: unknown } | null;
    try {
      doc = JSON.parse(response.body) as typeof doc;
    } catch (err) {
      throw new KeySourceError('unusable-document', `${at} is not JSON`, { cause: err });
    }
    if (doc?.issuer !== issuer) {
      const named = typeof doc?.issuer === 'string' ? JSON.stringify(clip(doc.issuer, 200)) : 'no issuer';
      // OpenID Connect Discovery §4.3: the issuer must be identical to the one configured.
      throw new KeySourceError(
        'issuer-mismatch',
        `${at} names issuer ${named}, not ${JSON.stringify(issuer)}`,
      );
    }
    if (typeof doc.jwks_uri !== 'string')
      throw new KeySourceError('unusable-document', `${at} has no jwks_uri`);
    const problem = checkOutboundUrl(doc.jwks_uri, insecureHosts);
    if (problem) {
      const named = JSON.stringify(clip(doc.jwks_uri, 200));
      throw new KeySourceError('refused-url', `${at} names jwks_uri ${named}, which ${problem}`);
    }
    return doc.jwks_uri;
  }
}
