import { InvalidTokenError } from '../errors.js';
import { clip } from '../jwt/compact.js';
import type { IntrospectorRecord } from './config.js';

/**
 * What the verifier knows of a token before introspecting it: not JWT-shaped, or a JWT whose
 * issuer no `type: jwt` TokenIntrospector trusts (`iss` as found in its payload, maybe absent).
 */
export type TokenShape = { readonly kind: 'opaque' } | { readonly kind: 'jwt'; readonly iss: unknown };

/** The shape of a token that is not a JWT. */
export const OPAQUE_SHAPE: TokenShape = { kind: 'opaque' };

/**
 * The introspectors a token may be sent to (DESIGN §11 "tokens go only where they belong"), in id
 * order. The rules, first match wins:
 *
 * 1. Introspectors whose `token_prefix` starts the token, the longest matching prefix only (`ab-`
 *    beats `a-`): the token is theirs, nobody else sees it. This holds for JWT-shaped tokens too —
 *    a prefix is the configuration saying where such tokens go.
 * 2. A JWT-shaped token (its issuer trusted by no jwt introspector): only introspectors that list
 *    its `iss` in `introspection_endpoint.jwt_issuers`. A typo'd `iss` therefore goes nowhere.
 * 3. Any other token: the introspectors without a `token_prefix`.
 *
 * A token is never sent to an endpoint whose prefix it does not match.
 */
export function routeToken(
  records: readonly IntrospectorRecord[],
  token: string,
  shape: TokenShape,
): readonly IntrospectorRecord[] {
  let longest = 0;
  let prefixed = 0;
  for (const r of records) {
    const prefix = r.tokenPrefix;
    if (prefix === undefined) continue;
    prefixed++;
    if (prefix.length > longest && token.startsWith(prefix)) longest = prefix.length;
  }
  // The hot path of a cached opaque token: without prefixes, no allocation per check.
  if (prefixed === 0 && shape.kind === 'opaque') return records;
  if (longest > 0) {
    return records.filter((r) => r.tokenPrefix?.length === longest && token.startsWith(r.tokenPrefix));
  }
  if (shape.kind === 'jwt') {
    const iss = shape.iss;
    return typeof iss === 'string' ? records.filter((r) => r.jwtIssuers?.includes(iss) === true) : [];
  }
  return records.filter((r) => r.tokenPrefix === undefined);
}

/** The 401 for a token {@link routeToken} sends nowhere; it names why and what to configure. */
export function unroutedTokenError(shape: TokenShape, hasOpaque: boolean): InvalidTokenError {
  if (shape.kind === 'opaque') {
    return new InvalidTokenError(
      hasOpaque ? 'ERR_TOKEN_ISSUER_UNTRUSTED' : 'ERR_TOKEN_MALFORMED',
      hasOpaque
        ? 'The bearer token starts with no configured introspection_endpoint.token_prefix, and every opaque TokenIntrospector has one, so no identity provider is asked about it.'
        : 'The bearer token is not a JWT (three base64url parts with a JSON header) and no opaque TokenIntrospector is configured to introspect it.',
    );
  }
  if (shape.iss !== undefined && typeof shape.iss !== 'string') {
    return new InvalidTokenError(
      'ERR_JWT_CLAIM_INVALID',
      "The token's iss claim is not a string (RFC 7519 §4.1.1), so no TokenIntrospector can verify it; use a token from a configured issuer.",
      { claim: 'iss' },
    );
  }
  if (typeof shape.iss !== 'string') {
    return new InvalidTokenError(
      'ERR_JWT_CLAIM_MISSING',
      'The token names no issuer (iss claim), so no TokenIntrospector can verify it; use a token from a configured issuer.',
      { claim: 'iss' },
    );
  }
  return new InvalidTokenError(
    'ERR_TOKEN_ISSUER_UNTRUSTED',
    `The token's issuer is not trusted: no TokenIntrospector trusts issuer ${JSON.stringify(clip(shape.iss, 200))} (no jwt.iss equals it and no opaque introspector lists it in introspection_endpoint.jwt_issuers); use a token from a configured issuer.`,
  );
}
