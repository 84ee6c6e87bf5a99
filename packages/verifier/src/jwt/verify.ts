import type { JwsAlgorithm } from '@authz/protocol';
import {
  InvalidTokenError,
  type VerifierError,
  type VerifierErrorCode,
  VerifierUnavailableError,
} from '../errors.js';
import type { CompiledJwtIntrospector } from '../introspector/compile.js';
import { type VerificationKey, verifySignature } from '../keys/signature.js';
import { checkClaims } from './claims.js';
import { clip, type ParsedJwt } from './compact.js';

/** Where a candidate's keys come from: static ones synchronously, `jwks_uri` ones maybe after a fetch. */
export type KeyLookup = (
  introspector: CompiledJwtIntrospector,
  kid: string | undefined,
) => readonly VerificationKey[] | Promise<readonly VerificationKey[]>;

/** A token accepted by one introspector. */
export interface JwtAcceptance {
  readonly introspector: CompiledJwtIntrospector;
  readonly exp: number;
  /** the key whose signature verified */
  readonly key: VerificationKey;
}

/**
 * Tries each candidate introspector (all trust the token's issuer) in configuration order; the
 * first that accepts the token wins. When all refuse, the most telling refusal is thrown: a claim
 * failure (the signature was good) over "could not check" over a bad signature over no fitting key.
 */
export async function verifyWithCandidates(
  parsed: ParsedJwt,
  alg: JwsAlgorithm,
  candidates: readonly CompiledJwtIntrospector[],
  lookup: KeyLookup,
  nowMs: number,
): Promise<JwtAcceptance> {
  const kid = parsed.header.kid as string | undefined;
  let refusal: VerifierError | undefined;
  for (const introspector of candidates) {
    try {
      const found = lookup(introspector, kid);
      const keys = Array.isArray(found) ? (found as readonly VerificationKey[]) : await found;
      return { introspector, ...verifyWithKeys(parsed, alg, kid, introspector, keys, nowMs) };
    } catch (err) {
      if (!(err instanceof InvalidTokenError || err instanceof VerifierUnavailableError)) throw err;
      if (!refusal || rank(err) > rank(refusal)) refusal = err;
    }
  }
  throw (
    refusal ??
    new InvalidTokenError('ERR_TOKEN_ISSUER_UNTRUSTED', 'No TokenIntrospector can verify this token.')
  );
}

/** Checks signature then claims against one introspector's keys; returns `exp` and the key. */
function verifyWithKeys(
  parsed: ParsedJwt,
  alg: JwsAlgorithm,
  kid: string | undefined,
  introspector: CompiledJwtIntrospector,
  keys: readonly VerificationKey[],
  nowMs: number,
): { exp: number; key: VerificationKey } {
  const at = { introspector: introspector.id };
  let fitting = 0;
  let verified: VerificationKey | undefined;
  for (const key of keys) {
    if (key.alg !== alg) continue;
    fitting++;
    if (verifySignature(key, parsed.signingInput, parsed.signature)) {
      verified = key;
      break;
    }
  }
  if (fitting === 0) {
    if (keys.length === 0) {
      throw new InvalidTokenError(
        'ERR_JWKS_NO_MATCHING_KEY',
        `TokenIntrospector/${introspector.id} has no key with the token's key id ${JSON.stringify(clip(kid))}.`,
        at,
      );
    }
    const offered = [...new Set(keys.map((k) => k.alg))].join(', ');
    throw new InvalidTokenError(
      'ERR_JWS_ALG_NOT_ALLOWED',
      `The token is signed with ${alg}, but the matching keys of TokenIntrospector/${introspector.id} only verify ${offered}; the algorithm comes from the key, not the token.`,
      at,
    );
  }
  if (!verified) {
    throw new InvalidTokenError(
      'ERR_JWS_SIGNATURE_INVALID',
      `The token's signature does not verify with any ${alg} key of TokenIntrospector/${introspector.id}; it was altered or signed by another key.`,
      at,
    );
  }
  return { exp: checkClaims(parsed.payload, introspector.rules, nowMs), key: verified };
}

const SIGNATURE_STAGE: Partial<Record<VerifierErrorCode, number>> = {
  ERR_JWS_SIGNATURE_INVALID: 2,
  ERR_JWKS_NO_MATCHING_KEY: 1,
  ERR_JWS_ALG_NOT_ALLOWED: 0,
};

function rank(err: VerifierError): number {
  if (err instanceof VerifierUnavailableError) return 3;
  return SIGNATURE_STAGE[err.code] ?? 4; // anything else was raised after a good signature
}
