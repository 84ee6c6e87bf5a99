import { constants, createHmac, verify as cryptoVerify, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { JwsAlgorithm } from '@authz/protocol';
import { ALGORITHMS } from './algorithms.js';

/**
 * A key ready to verify signatures of exactly one algorithm. The algorithm is the key's, fixed
 * when the key was imported — a token's `alg` only selects among keys, it never changes how a
 * key is used (RFC 8725 §3.1).
 */
export interface VerificationKey {
  readonly alg: JwsAlgorithm;
  /** `kid` of the key, when its source names one */
  readonly kid?: string;
  /** imported and checked against `alg` (see `keyMismatch`) */
  readonly key: KeyObject;
}

const PSS_OPTIONS = {
  padding: constants.RSA_PKCS1_PSS_PADDING,
  saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
};

/**
 * Verifies a JWS signature over `signingInput` (the ASCII `header.payload`) with node:crypto.
 * Synchronous: ~2 µs for HS256, ~20 µs for RS256, far below WebCrypto's promise round trips
 * (numbers in `bench/verify.bench.mjs`). Never throws: any failure is `false`.
 */
export function verifySignature(key: VerificationKey, signingInput: Buffer, signature: Buffer): boolean {
  const { family, hash, signatureBytes } = ALGORITHMS[key.alg];
  try {
    switch (family) {
      case 'HS': {
        const mac = createHmac(hash as string, key.key)
          .update(signingInput)
          .digest();
        // Constant time (RFC 7515 §10.7 warns about timing on MAC comparison).
        return mac.length === signature.length && timingSafeEqual(mac, signature);
      }
      case 'RS':
        return cryptoVerify(
          hash,
          signingInput,
          { key: key.key, padding: constants.RSA_PKCS1_PADDING },
          signature,
        );
      case 'PS':
        return cryptoVerify(hash, signingInput, { key: key.key, ...PSS_OPTIONS }, signature);
      case 'ES':
        // JWS carries ECDSA signatures as raw r‖s of fixed size (RFC 7518 §3.4), not DER.
        if (signature.length !== signatureBytes) return false;
        return cryptoVerify(hash, signingInput, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'EdDSA':
        return cryptoVerify(null, signingInput, key.key, signature);
    }
  } catch {
    return false;
  }
}
