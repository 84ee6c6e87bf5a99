import { createHash } from 'node:crypto';
import {
  DEFAULT_CACHE_TTL_SECONDS,
  DEFAULT_CLOCK_SKEW_SECONDS,
  DEFAULT_MAX_LIFETIME_SECONDS,
  type TokenIntrospector,
} from '@authz/protocol';
import { type ConfigIssue, IntrospectorConfigError } from '../errors.js';
import { checkOutboundUrl } from '../http/fetch.js';
import { discoveryUrlOf } from '../jwks/discovery.js';
import type { ClaimRules } from '../jwt/claims.js';
import { importConfiguredKeys, importSecret } from '../keys/configured.js';
import { secretLooksLikeKey } from '../keys/secret-shape.js';
import type { VerificationKey } from '../keys/signature.js';
import type { OpaqueIntrospectorConfig } from '../opaque/index.js';

/** A `type: jwt` TokenIntrospector, ready for the hot path. */
export interface CompiledJwtIntrospector {
  readonly type: 'jwt';
  readonly id: string;
  /** `jwt.iss`, compared to the token's `iss` exactly */
  readonly iss: string;
  readonly rules: ClaimRules;
  /** `jwt.secret` or `jwt.keys`, each pinned to its algorithm; absent for `jwks_uri` */
  readonly keys?: readonly VerificationKey[];
  /** the key set's URL when keys come from `jwks_uri` */
  readonly jwksUri?: string;
  /** keys come from the `jwks_uri` of `<iss>/.well-known/openid-configuration` (`jwt.discovery`) */
  readonly discovery?: true;
  /** `cache_ttl`: how old a fetched key set may get before it is refreshed */
  readonly cacheTtlSeconds: number;
  /** a hash of the whole resource: equal fingerprints mean nothing changed */
  readonly fingerprint: string;
}

/** A `type: opaque` TokenIntrospector, handed to the introspection client. */
export interface CompiledOpaqueIntrospector {
  readonly type: 'opaque';
  readonly id: string;
  readonly opaque: OpaqueIntrospectorConfig;
  readonly fingerprint: string;
}

/** A TokenIntrospector after {@link compileIntrospector}. */
export type CompiledIntrospector = CompiledJwtIntrospector | CompiledOpaqueIntrospector;

/**
 * Returns a copy with Aidbox's alternative `jwt.jwks_uri` moved to the top-level `jwks_uri` (the
 * form the config service stores). When both are given and differ, both are kept, so
 * {@link compileIntrospector} can name the conflict.
 */
export function normalizeIntrospector(resource: TokenIntrospector): TokenIntrospector {
  const nested = resource.jwt?.jwks_uri;
  if (nested === undefined || !resource.jwt) return { ...resource };
  if (resource.jwks_uri !== undefined && resource.jwks_uri !== nested) return { ...resource };
  const { jwks_uri: _moved, ...jwt } = resource.jwt;
  return { ...resource, jwt, jwks_uri: nested };
}

/**
 * Validates one TokenIntrospector and prepares it for verification: keys and PEMs are parsed and
 * pinned to their algorithm, URLs pass the outbound rules (`http://` only for loopback or
 * `insecureHosts`). Throws {@link IntrospectorConfigError} listing every problem with its path
 * (`jwt.keys[1].pub`, `jwks_uri`, `jwt`, `introspection_endpoint.url`): the config service turns
 * it into a 422, so a bad key never becomes a runtime surprise.
 *
 * @example
 * const compiled = compileIntrospector({ resourceType: 'TokenIntrospector', id: 'idp', type: 'jwt',
 *   jwt: { iss: 'https://auth.example.com', secret: 'very-secret' } });
 */
export function compileIntrospector(
  resource: TokenIntrospector,
  options: { insecureHosts?: readonly string[] } = {},
): CompiledIntrospector {
  const normalized = normalizeIntrospector(resource);
  const id = normalized.id ?? 'unnamed';
  const issues: ConfigIssue[] = [];
  const fingerprint = createHash('sha256').update(JSON.stringify(normalized)).digest('base64url');
  let compiled: CompiledIntrospector | undefined;
  if (normalized.type === 'jwt') compiled = compileJwt(normalized, id, fingerprint, options, issues);
  else if (normalized.type === 'opaque')
    compiled = compileOpaque(normalized, id, fingerprint, options, issues);
  else issues.push({ path: 'type', message: 'must be jwt or opaque' });
  if (issues.length > 0 || !compiled) throw new IntrospectorConfigError(issues, id);
  return compiled;
}

function compileJwt(
  resource: TokenIntrospector,
  id: string,
  fingerprint: string,
  options: { insecureHosts?: readonly string[] },
  issues: ConfigIssue[],
): CompiledJwtIntrospector | undefined {
  const jwt = resource.jwt;
  if (!jwt) {
    issues.push({
      path: 'jwt',
      message:
        'is required for type jwt: give jwt.iss and one of jwt.secret, jwks_uri, jwt.keys, jwt.discovery',
    });
    return undefined;
  }
  if (typeof jwt.iss !== 'string' || jwt.iss.length === 0) {
    issues.push({
      path: 'jwt.iss',
      message: 'is required: the issuer (iss) whose tokens this introspector verifies',
    });
  }
  if (jwt.jwks_uri !== undefined) {
    issues.push({ path: 'jwt.jwks_uri', message: 'differs from jwks_uri; give the key set URL once' });
  }
  const sources = [
    jwt.secret !== undefined && 'jwt.secret',
    resource.jwks_uri !== undefined && 'jwks_uri',
    jwt.keys !== undefined && 'jwt.keys',
    jwt.discovery === true && 'jwt.discovery',
  ].filter((s): s is string => typeof s === 'string');
  if (sources.length !== 1) {
    const found = sources.length === 0 ? 'none is given' : `found ${sources.join(' and ')}`;
    issues.push({
      path: 'jwt',
      message: `needs exactly one of jwt.secret, jwks_uri, jwt.keys, jwt.discovery (${found})`,
    });
  }
  if (jwt.discovery !== undefined && typeof jwt.discovery !== 'boolean') {
    issues.push({ path: 'jwt.discovery', message: 'must be true or false' });
  }
  if (jwt.discovery === true && typeof jwt.iss === 'string' && jwt.iss.length > 0) {
    // The document is fetched under the same URL rules as a configured jwks_uri.
    const url = discoveryUrlOf(jwt.iss);
    const problem = checkOutboundUrl(url, options.insecureHosts);
    if (problem) issues.push({ path: 'jwt.discovery', message: `the discovery document ${url} ${problem}` });
  }
  let keys: VerificationKey[] | undefined;
  if (jwt.secret !== undefined) {
    const keyShaped = secretLooksLikeKey(jwt.secret);
    if (keyShaped) issues.push({ path: 'jwt.secret', message: keyShaped });
    keys = importSecret(jwt.secret);
  }
  if (jwt.keys !== undefined) keys = importConfiguredKeys(jwt.keys, issues);
  if (resource.jwks_uri !== undefined) {
    const problem = checkOutboundUrl(resource.jwks_uri, options.insecureHosts);
    if (problem) issues.push({ path: 'jwks_uri', message: problem });
  }
  const audiences =
    jwt.aud === undefined ? undefined : typeof jwt.aud === 'string' ? [jwt.aud] : [...jwt.aud];
  const clockSkewSeconds = jwt.clock_skew ?? DEFAULT_CLOCK_SKEW_SECONDS;
  if (!Number.isInteger(clockSkewSeconds) || clockSkewSeconds < 0 || clockSkewSeconds > 3600) {
    issues.push({ path: 'jwt.clock_skew', message: 'must be a whole number of seconds from 0 to 3600' });
  }
  const maxLifetimeSeconds = jwt.max_lifetime ?? DEFAULT_MAX_LIFETIME_SECONDS;
  if (!Number.isInteger(maxLifetimeSeconds) || maxLifetimeSeconds < 1 || maxLifetimeSeconds > 31_536_000) {
    issues.push({
      path: 'jwt.max_lifetime',
      message: 'must be a whole number of seconds from 1 to 31536000',
    });
  }
  const cacheTtlSeconds = cacheTtl(resource, issues);
  const base = { introspector: id, clockSkewSeconds, maxLifetimeSeconds };
  const rules: ClaimRules = audiences ? { ...base, audiences } : base;
  const source =
    resource.jwks_uri !== undefined
      ? { jwksUri: resource.jwks_uri }
      : jwt.discovery === true
        ? { discovery: true as const }
        : { keys: keys ?? [] };
  return { type: 'jwt', id, iss: jwt.iss, rules, cacheTtlSeconds, fingerprint, ...source };
}

function compileOpaque(
  resource: TokenIntrospector,
  id: string,
  fingerprint: string,
  options: { insecureHosts?: readonly string[] },
  issues: ConfigIssue[],
): CompiledOpaqueIntrospector | undefined {
  const foreign = {
    'jwt.secret': resource.jwt?.secret,
    'jwt.keys': resource.jwt?.keys,
    'jwt.discovery': resource.jwt?.discovery,
    jwks_uri: resource.jwks_uri,
  };
  for (const [path, value] of Object.entries(foreign)) {
    if (value !== undefined)
      issues.push({ path, message: 'is for type jwt; an opaque introspector asks introspection_endpoint' });
  }
  if (resource.jwt?.jwks_uri !== undefined) {
    issues.push({
      path: 'jwt.jwks_uri',
      message: 'is for type jwt; an opaque introspector asks introspection_endpoint',
    });
  }
  const cacheTtlSeconds = cacheTtl(resource, issues);
  const endpoint = resource.introspection_endpoint;
  if (!endpoint || typeof endpoint.url !== 'string') {
    issues.push({
      path: 'introspection_endpoint.url',
      message: 'is required for type opaque (RFC 7662 endpoint)',
    });
    return undefined;
  }
  const problem = checkOutboundUrl(endpoint.url, options.insecureHosts);
  if (problem) issues.push({ path: 'introspection_endpoint.url', message: problem });
  const opaque: OpaqueIntrospectorConfig = { id, url: endpoint.url, cacheTtlSeconds };
  if (endpoint.authorization !== undefined) opaque.authorization = endpoint.authorization;
  if (endpoint.token_prefix !== undefined) opaque.tokenPrefix = endpoint.token_prefix;
  if (endpoint.jwt_issuers !== undefined) opaque.jwtIssuers = [...endpoint.jwt_issuers];
  return { type: 'opaque', id, opaque, fingerprint };
}

function cacheTtl(resource: TokenIntrospector, issues: ConfigIssue[]): number {
  const ttl = resource.cache_ttl ?? DEFAULT_CACHE_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86400) {
    issues.push({ path: 'cache_ttl', message: 'must be a whole number of seconds from 1 to 86400' });
  }
  return ttl;
}
