import { timingSafeEqual } from 'node:crypto';
import { DPOP_PROOF_MAX_AGE_SECONDS, hashToken, type TokenBinding } from '@authz/protocol';
import { DpopProofError, InvalidTokenError, VerifierError } from '../errors.js';
import type { VerifiedIdentity } from '../types.js';
import { verifyDpopProof } from './proof.js';
import type { DpopReplayStore } from './replay.js';

/** How the request presented its token, and what came with it. */
export interface PresentedToken {
  /** `Authorization: Bearer` or `Authorization: DPoP` (RFC 9449 §7.1) */
  scheme: 'bearer' | 'dpop';
  token: string;
  /** the `DPoP` header (DPoP scheme only); absent when the request carried none */
  proof?: string;
}

/** The request facts a sender constraint is checked against. */
export interface SenderFacts {
  /** HTTP method, upper case */
  method: string;
  /** the URL the client addressed, normalized by `htuOf`; `undefined` when the request does not say */
  url: string | undefined;
  /** `client_cert_sha256` of the check request (base64url), from a trusted TLS-terminating proxy */
  clientCertSha256: string | undefined;
  /** the token's TokenIntrospector says `dpop: required` */
  dpopRequired: boolean;
}

/** What a token's `cnf` claim (RFC 7800) binds it to. */
export interface TokenConfirmation {
  /** RFC 9449 §6: thumbprint of the DPoP key */
  jkt?: string;
  /** RFC 8705 §3.1: SHA-256 of the client certificate */
  x5tS256?: string;
  /** `cnf` is present but not usable (a member of the wrong type) */
  malformed?: true;
}

/** The `cnf` members of verified claims (JWT payload or introspection response). */
export function confirmationOf(claims: Record<string, unknown>): TokenConfirmation {
  const cnf = claims.cnf;
  if (cnf === undefined) return {};
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return { malformed: true };
  const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>;
  const result: TokenConfirmation = {};
  if (jkt !== undefined) {
    if (typeof jkt !== 'string' || jkt === '') return { malformed: true };
    result.jkt = jkt;
  }
  if (x5t !== undefined) {
    if (typeof x5t !== 'string' || x5t === '') return { malformed: true };
    result.x5tS256 = x5t;
  }
  return result;
}

/** The binding kind a token's confirmation names, for events and the reply identity. */
export function bindingOf(confirmation: TokenConfirmation): TokenBinding | undefined {
  if (confirmation.jkt !== undefined) return confirmation.x5tS256 !== undefined ? 'dpop+mtls' : 'dpop';
  return confirmation.x5tS256 !== undefined ? 'mtls' : undefined;
}

/**
 * Enforces sender constraints on a verified token (DESIGN §13): a `cnf["x5t#S256"]` token needs
 * the matching client certificate (RFC 8705 §3); a `cnf.jkt` token needs `Authorization: DPoP`
 * and a proof by that key, whose `jti` is claimed once in the replay store (RFC 9449 §4.3, §7.1);
 * a `dpop: required` introspector's tokens need both. Answers the refusal as a value
 * (`undefined`: the token may be used), synchronously when no proof is involved; resolves with
 * a {@link VerifierUnavailableError} when the replay store cannot answer.
 */
export class SenderConstraints {
  constructor(
    private readonly replay: DpopReplayStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Where `jti`s are remembered: the whole cluster, or this worker only. */
  get replayScope(): DpopReplayStore['scope'] {
    return this.replay.scope;
  }

  check(
    verified: VerifiedIdentity,
    presented: PresentedToken,
    facts: SenderFacts,
  ): VerifierError | undefined | Promise<VerifierError | undefined> {
    const cnf = confirmationOf(verified.claims);
    if (cnf.malformed) {
      return bindingRefused(
        'The token\'s cnf claim is malformed (cnf must be an object whose jkt / "x5t#S256" are strings).',
      );
    }
    if (cnf.x5tS256 !== undefined) {
      const refusal = certificateRefusal(cnf.x5tS256, facts.clientCertSha256);
      if (refusal) return refusal;
    }
    if (presented.scheme === 'bearer') {
      if (cnf.jkt !== undefined) {
        return bindingRefused(
          'The token is bound to a DPoP key (cnf.jkt) and was presented as a Bearer token; send it as "Authorization: DPoP <token>" with a DPoP proof signed by that key.',
        );
      }
      if (facts.dpopRequired) {
        return bindingRefused(
          `TokenIntrospector/${verified.introspector} requires DPoP: send a DPoP-bound token as "Authorization: DPoP <token>" with a DPoP proof.`,
        );
      }
      return undefined;
    }
    if (cnf.jkt === undefined) {
      return bindingRefused(
        'The token was presented with the DPoP scheme but is not bound to a key (it has no cnf.jkt); ask the authorization server for a DPoP-bound token, or send this one as Bearer.',
      );
    }
    // Refusals and "cannot check replay now" become values; anything else is internal (503).
    return this.checkProof(cnf.jkt, presented, facts).catch((err: unknown) => {
      if (err instanceof VerifierError) return err;
      throw err;
    });
  }

  private async checkProof(jkt: string, presented: PresentedToken, facts: SenderFacts): Promise<undefined> {
    if (presented.proof === undefined) {
      throw new DpopProofError(
        'ERR_DPOP_PROOF_INVALID',
        'proof',
        'The request uses the DPoP scheme but carries no DPoP proof header.',
      );
    }
    if (facts.url === undefined) {
      throw new DpopProofError(
        'ERR_DPOP_PROOF_INVALID',
        'htu',
        "The URL the client addressed is unknown (the check request has neither origin nor a Host header), so the proof's htu cannot be checked; set GATEWAY_PUBLIC_URL or forward the Host header.",
      );
    }
    const now = this.now();
    const proof = await verifyDpopProof(presented.proof, {
      method: facts.method,
      url: facts.url,
      accessToken: presented.token,
      now,
    });
    if (proof.jkt !== jkt) {
      throw new DpopProofError(
        'ERR_DPOP_PROOF_INVALID',
        'jkt',
        "The DPoP proof is signed by a key other than the one the token is bound to (its thumbprint is not the token's cnf.jkt).",
      );
    }
    // Remembered until the proof's iat leaves the acceptance window (RFC 9449 §11.1).
    const ttlMs = (proof.iat + DPOP_PROOF_MAX_AGE_SECONDS) * 1000 - now + 1000;
    const seen = await this.replay.claim(hashToken(`${proof.jkt}.${proof.jti}`), ttlMs, proof.iat * 1000);
    if (seen === 'replayed') {
      throw new DpopProofError(
        'ERR_DPOP_PROOF_REPLAYED',
        'jti',
        'The DPoP proof was already used (its jti was seen before); make a fresh proof for every request.',
      );
    }
    return undefined;
  }
}

function bindingRefused(message: string): InvalidTokenError {
  return new InvalidTokenError('ERR_TOKEN_BINDING_REQUIRED', message);
}

/** RFC 8705 §3: the certificate's thumbprint must equal `cnf["x5t#S256"]` (compared in constant time). */
function certificateRefusal(expected: string, presented: string | undefined): InvalidTokenError | undefined {
  if (presented === undefined) {
    return new InvalidTokenError(
      'ERR_TOKEN_CERT_MISMATCH',
      'The token is bound to a client certificate (cnf x5t#S256) and the request came without one; connect with that certificate through a TLS-terminating proxy the gateway trusts.',
    );
  }
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  if (a.length === b.length && timingSafeEqual(a, b)) return undefined;
  return new InvalidTokenError(
    'ERR_TOKEN_CERT_MISMATCH',
    'The token is bound to another client certificate than the one presented (cnf x5t#S256 differs); use the certificate the token was issued to.',
  );
}
