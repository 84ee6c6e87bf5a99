import type { KeyObject } from 'node:crypto';
import type { JwsAlgorithm } from '@authz/protocol';

/** The family of a JWS algorithm (RFC 7518 §3.1), which fixes the key type it needs. */
export type AlgorithmFamily = 'HS' | 'RS' | 'PS' | 'ES' | 'EdDSA';

/** What verifying one algorithm takes: the digest, and for ECDSA the curve and raw signature size. */
export interface AlgorithmSpec {
  readonly family: AlgorithmFamily;
  /** node:crypto digest name; `null` for EdDSA, which hashes internally */
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** ECDSA: the node curve name the key must be on */
  readonly curve?: 'prime256v1' | 'secp384r1' | 'secp521r1';
  /** ECDSA: bytes of the IEEE P1363 (r‖s) signature (RFC 7518 §3.4) */
  readonly signatureBytes?: number;
}

const spec = (family: AlgorithmFamily, hash: AlgorithmSpec['hash'], extra: Partial<AlgorithmSpec> = {}) =>
  Object.freeze({ family, hash, ...extra });

/** Every algorithm a key may be pinned to, and nothing else: `none` is absent on purpose (RFC 8725 §3.1). */
export const ALGORITHMS: Readonly<Record<JwsAlgorithm, AlgorithmSpec>> = Object.freeze({
  HS256: spec('HS', 'sha256'),
  HS384: spec('HS', 'sha384'),
  HS512: spec('HS', 'sha512'),
  RS256: spec('RS', 'sha256'),
  RS384: spec('RS', 'sha384'),
  RS512: spec('RS', 'sha512'),
  PS256: spec('PS', 'sha256'),
  PS384: spec('PS', 'sha384'),
  PS512: spec('PS', 'sha512'),
  ES256: spec('ES', 'sha256', { curve: 'prime256v1', signatureBytes: 64 }),
  ES384: spec('ES', 'sha384', { curve: 'secp384r1', signatureBytes: 96 }),
  ES512: spec('ES', 'sha512', { curve: 'secp521r1', signatureBytes: 132 }),
  EdDSA: spec('EdDSA', null),
});

/** Whether `alg` (from a token header or a config) is one this verifier implements. */
export function isKnownAlgorithm(alg: unknown): alg is JwsAlgorithm {
  return typeof alg === 'string' && Object.hasOwn(ALGORITHMS, alg);
}

/** The `kty` a configured key declares (Aidbox spells the symmetric one `OCT`). */
export type ConfiguredKty = 'RSA' | 'EC' | 'OCT' | 'OKP';

const FAMILIES_OF_KTY: Record<ConfiguredKty, readonly AlgorithmFamily[]> = {
  RSA: ['RS', 'PS'],
  EC: ['ES'],
  OCT: ['HS'],
  OKP: ['EdDSA'],
};

/** The algorithms a key of type `kty` can be pinned to, for messages. */
export function algorithmsForKty(kty: ConfiguredKty): JwsAlgorithm[] {
  return (Object.keys(ALGORITHMS) as JwsAlgorithm[]).filter((alg) =>
    FAMILIES_OF_KTY[kty].includes(ALGORITHMS[alg].family),
  );
}

/** Whether `alg` belongs to key type `kty` (RSA → RS/PS, EC → ES, OCT → HS, OKP → EdDSA). */
export function algorithmFitsKty(alg: JwsAlgorithm, kty: ConfiguredKty): boolean {
  return FAMILIES_OF_KTY[kty].includes(ALGORITHMS[alg].family);
}

const CURVE_LABEL: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** RSA keys shorter than this are refused, as jose does (RFC 7518 §3.3 and §3.5). */
export const MIN_RSA_BITS = 2048;

/**
 * Why `key` cannot verify `alg`, or `undefined` when it can. The same rules as jose's key checks:
 * a key is only ever used for the one algorithm it is pinned to, so a public key can never be
 * fed to HMAC (RFC 8725 §2.1, "algorithm confusion").
 */
export function keyMismatch(key: KeyObject, alg: JwsAlgorithm): string | undefined {
  const { family, curve } = ALGORITHMS[alg];
  if (family === 'HS') {
    if (key.type !== 'secret') return `${alg} needs a shared secret, not a ${key.asymmetricKeyType} key`;
    return key.symmetricKeySize === 0 ? `${alg} needs a non-empty secret` : undefined;
  }
  if (key.type === 'private') return 'is a private key; configure the public key only';
  if (key.type !== 'public') return `${alg} needs a public key, not a shared secret`;
  const type = key.asymmetricKeyType;
  if (family === 'RS' || family === 'PS') {
    // An rsa-pss key is restricted to PSS by its own parameters; never use it for PKCS#1 v1.5.
    const fits = type === 'rsa' || (family === 'PS' && type === 'rsa-pss');
    if (!fits) return `${alg} needs an RSA key, not ${describeType(type)}`;
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits < MIN_RSA_BITS
      ? `is an RSA key of ${bits} bits; ${alg} needs at least ${MIN_RSA_BITS}`
      : undefined;
  }
  if (family === 'ES') {
    if (type !== 'ec') return `${alg} needs an EC key, not ${describeType(type)}`;
    const actual = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    if (actual !== curve) {
      return `is an EC key on ${CURVE_LABEL[actual] ?? actual}; ${alg} needs ${CURVE_LABEL[curve ?? ''] ?? curve}`;
    }
    return undefined;
  }
  return type === 'ed25519' ? undefined : `EdDSA needs an Ed25519 key, not ${describeType(type)}`;
}

function describeType(type: string | undefined): string {
  if (type === 'rsa' || type === 'rsa-pss') return 'an RSA key';
  if (type === 'ec') return 'an EC key';
  return `a ${type ?? 'unknown'} key`;
}
