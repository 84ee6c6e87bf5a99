/**
 * Stable codes of every verification failure. Callers switch on `code` (never on message text);
 * the message is a sentence a person can act on and becomes the decision's `reason`.
 */
export type VerifierErrorCode =
  // 401 invalid_token: the token was looked at and is not acceptable
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_TOO_LARGE'
  | 'ERR_JWS_ALG_NOT_ALLOWED'
  | 'ERR_JWS_CRIT_UNSUPPORTED'
  | 'ERR_JWS_SIGNATURE_INVALID'
  | 'ERR_JWKS_NO_MATCHING_KEY'
  | 'ERR_JWT_EXPIRED'
  | 'ERR_JWT_NOT_YET_VALID'
  | 'ERR_JWT_ISSUED_IN_FUTURE'
  | 'ERR_JWT_CLAIM_MISSING'
  | 'ERR_JWT_CLAIM_INVALID'
  | 'ERR_JWT_AUDIENCE_MISMATCH'
  | 'ERR_JWT_LIFETIME_EXCEEDED'
  | 'ERR_TOKEN_ISSUER_UNTRUSTED'
  | 'ERR_TOKEN_INACTIVE'
  | 'ERR_TOKEN_REVOKED'
  // 401 sender-constrained tokens (RFC 9449 DPoP, RFC 8705 mTLS): see src/sender/
  | 'ERR_DPOP_PROOF_INVALID'
  | 'ERR_DPOP_PROOF_REPLAYED'
  | 'ERR_TOKEN_BINDING_REQUIRED'
  | 'ERR_TOKEN_CERT_MISMATCH'
  // 503: verification could not be attempted
  | 'ERR_KEY_SOURCE_UNAVAILABLE'
  | 'ERR_INTROSPECTION_UNAVAILABLE'
  | 'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE'
  // configuration (config service PUT → 422)
  | 'ERR_INTROSPECTOR_INVALID';

/** Base of every error this package throws. Keeps the original `cause`. */
export class VerifierError extends Error {
  constructor(
    readonly code: VerifierErrorCode,
    message: string,
    options?: { cause?: unknown; introspector?: string; claim?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.introspector = options?.introspector;
    this.claim = options?.claim;
  }
  /** id of the TokenIntrospector involved, when one was. */
  readonly introspector: string | undefined;
  /** JWT claim at fault (`exp`, `aud`, …), when one was. */
  readonly claim: string | undefined;
}

/** The token was examined and refused: answer 401 `invalid_token`. */
export class InvalidTokenError extends VerifierError {}

/**
 * A DPoP proof (RFC 9449 §4.3) is missing, malformed or does not fit the request or the token:
 * answer 401 with `WWW-Authenticate: DPoP error="invalid_dpop_proof"`. `check` names the rule
 * that failed (`htm`, `htu`, `iat`, `jti`, `ath`, `jkt`, `typ`, `alg`, `jwk`, `signature`, …).
 */
export class DpopProofError extends InvalidTokenError {
  constructor(
    code: 'ERR_DPOP_PROOF_INVALID' | 'ERR_DPOP_PROOF_REPLAYED',
    readonly check: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** Verification could not be attempted (key source or introspection endpoint down, nothing cached): answer 503. */
export class VerifierUnavailableError extends VerifierError {}

/** One problem in a TokenIntrospector, with the path of the field (`jwt.keys[1].pub`). */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A TokenIntrospector cannot be used as configured (config service answers 422). */
export class IntrospectorConfigError extends VerifierError {
  constructor(
    readonly issues: ConfigIssue[],
    introspector?: string,
  ) {
    super('ERR_INTROSPECTOR_INVALID', issues.map((i) => `${i.path}: ${i.message}`).join('; '), {
      introspector,
    });
  }
}
