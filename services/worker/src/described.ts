import { type ContextClaims, contextClaims } from '@authz/policy';
import type { Identity } from '@authz/protocol';
import {
  bindingOf,
  confirmationOf,
  TokenVerifier,
  type TokenVerifierOptions,
  type VerifiedIdentity,
  type VerifiedToken,
} from '@authz/verifier';

/**
 * A verified token in the forms a decision uses. For a cached token it is built once, on the
 * token's first cached use, and kept on the verifier's cache entry (it lives and dies with it);
 * a token verified just now gets a plain one (most unique tokens are seen once).
 */
export interface DescribedToken {
  readonly verified: VerifiedIdentity;
  /** the reply's view of the token */
  readonly identity: Identity;
  /** JSON of `identity`, written once per cached token */
  readonly json?: string;
  /** the claims as the policy context takes them: pruned once per cached token */
  readonly claims: Record<string, unknown> | ContextClaims;
}

/** What a decision needs of the verifier: a small seam, so `decide` runs against fakes too. */
export interface TokenSource {
  /** a token accepted before and still trusted, with its described form; `undefined`: call `verify` */
  cached(token: string): VerifiedToken<DescribedToken> | undefined;
  verify(token: string): Promise<VerifiedIdentity>;
}

/** The worker's verifier: its cache entries own each token's {@link DescribedToken}. */
export function createTokenVerifier(
  options: Omit<TokenVerifierOptions<DescribedToken>, 'derive'> = {},
): TokenVerifier<DescribedToken> {
  return new TokenVerifier({ ...options, derive: describeCachedToken });
}

/** The described form of a cached token (kept on its cache entry). */
export function describeCachedToken(verified: VerifiedIdentity): DescribedToken {
  const identity = Object.freeze(describeIdentity(verified));
  return { verified, identity, json: JSON.stringify(identity), claims: contextClaims(verified.claims) };
}

/** The described form of a token verified just now, used once. */
export function describeToken(verified: VerifiedIdentity): DescribedToken {
  return { verified, identity: describeIdentity(verified), claims: verified.claims };
}

/** The reply's view of a verified token: claims that name the bearer, never the token. */
export function describeIdentity(verified: VerifiedIdentity): Identity {
  const c = verified.claims;
  const identity: Identity = { kind: verified.kind, introspector: verified.introspector };
  if (typeof c.iss === 'string') identity.iss = c.iss;
  if (typeof c.sub === 'string') identity.sub = c.sub;
  // Aidbox: box_user before sub.
  const user = typeof c.box_user === 'string' ? c.box_user : identity.sub;
  if (user) identity.user = user;
  const client = [c.client_id, c.azp, c.cid].find((v): v is string => typeof v === 'string' && v !== '');
  if (client) identity.client = client;
  const exp = verified.exp ?? (typeof c.exp === 'number' ? c.exp : undefined);
  if (exp !== undefined) identity.exp = exp;
  const binding = c.cnf === undefined ? undefined : bindingOf(confirmationOf(c));
  if (binding) identity.binding = binding;
  return identity;
}
