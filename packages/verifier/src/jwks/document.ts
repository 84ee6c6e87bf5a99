import { KeyObject } from 'node:crypto';
import type { JwsAlgorithm } from '@authz/protocol';
import { importJWK, type JWK } from 'jose';
import { algorithmsForKty, isKnownAlgorithm, keyMismatch } from '../keys/algorithms.js';
import { PRIVATE_JWK_MEMBERS } from '../keys/configured.js';
import type { VerificationKey } from '../keys/signature.js';

/** Most keys taken from one JWKS document; the rest are ignored. */
export const MAX_JWKS_KEYS = 64;

/** The usable part of a JWKS document. */
export interface ImportedKeySet {
  /** one entry per (key, algorithm) pair the key may verify */
  keys: VerificationKey[];
  /** the public JWKs that produced `keys`, as stored in the shared cache */
  jwks: Record<string, unknown>[];
  /** why each skipped key was skipped (`keys[2]: …`), for the log */
  skipped: string[];
}

const CURVE_ALG: Record<string, JwsAlgorithm> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

/**
 * Parses a JWKS document (RFC 7517 §5). Keys that are malformed, private, symmetric, not for
 * signatures, or of an algorithm this verifier does not implement are skipped and reported; the
 * good ones are kept, so one broken entry never takes an issuer down. Throws only when the
 * document itself is unusable (not JSON, no `keys` array).
 */
export async function importJwksDocument(body: string): Promise<ImportedKeySet> {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new Error('the JWKS document is not JSON');
  }
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('the JWKS document has no "keys" array');
  return importJwkList(list.slice(0, MAX_JWKS_KEYS));
}

/** Imports a list of JWKs (from a document or from the shared cache); see {@link importJwksDocument}. */
export async function importJwkList(list: readonly unknown[]): Promise<ImportedKeySet> {
  const result: ImportedKeySet = { keys: [], jwks: [], skipped: [] };
  await Promise.all(
    list.map(async (entry, index) => {
      const outcome = await importJwksKey(entry);
      if (typeof outcome === 'string') {
        result.skipped.push(`keys[${index}]: ${outcome}`);
        return;
      }
      result.keys.push(...outcome);
      result.jwks.push(entry as Record<string, unknown>);
    }),
  );
  return result;
}

/**
 * One JWKS entry → verification keys, imported through jose (`importJWK`) and converted to a
 * node KeyObject for the synchronous hot path. A key without `alg` may verify every algorithm of
 * its type (RSA: RS*, PS*; EC: the one of its curve; OKP Ed25519: EdDSA). Returns the reason
 * when the key is skipped.
 */
async function importJwksKey(entry: unknown): Promise<VerificationKey[] | string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return 'is not a JSON object';
  const jwk = entry as Record<string, unknown>;
  if (jwk.kty === 'oct') return 'is a symmetric key; shared secrets are never taken from a JWKS';
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP')
    return `has unsupported kty ${JSON.stringify(jwk.kty)}`;
  if (jwk.use !== undefined && jwk.use !== 'sig') return `has use ${JSON.stringify(jwk.use)}, not "sig"`;
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return 'is not for "verify" (key_ops)';
  if (PRIVATE_JWK_MEMBERS.some((m) => jwk[m] !== undefined)) return 'contains private key material';
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') return 'has a kid that is not a string';
  const algs = algorithmsOf(jwk);
  if (typeof algs === 'string') return algs;
  let key: KeyObject;
  try {
    // jose validates the JWK's members against the algorithm; the first one fixes the import.
    const imported = await importJWK({ ...(jwk as JWK), alg: undefined }, algs[0]);
    if (imported instanceof Uint8Array) return 'is a symmetric key';
    key = KeyObject.from(imported);
  } catch (err) {
    return `does not import: ${(err as Error).message}`;
  }
  const usable = algs.filter((alg) => keyMismatch(key, alg) === undefined);
  if (usable.length === 0) return keyMismatch(key, algs[0] as JwsAlgorithm) as string;
  const kid = jwk.kid as string | undefined;
  return usable.map((alg) => (kid === undefined ? { alg, key } : { alg, kid, key }));
}

function algorithmsOf(jwk: Record<string, unknown>): [JwsAlgorithm, ...JwsAlgorithm[]] | string {
  // RFC 9864 names Ed25519 explicitly; it is EdDSA over Ed25519 here.
  const declared = jwk.alg === 'Ed25519' ? 'EdDSA' : jwk.alg;
  if (declared !== undefined) {
    if (!isKnownAlgorithm(declared)) return `has unsupported alg ${JSON.stringify(jwk.alg)}`;
    return [declared];
  }
  if (jwk.kty === 'RSA') return algorithmsForKty('RSA') as [JwsAlgorithm, ...JwsAlgorithm[]];
  if (jwk.kty === 'EC') {
    const alg = CURVE_ALG[jwk.crv as string];
    return alg ? [alg] : `has unsupported crv ${JSON.stringify(jwk.crv)}`;
  }
  return jwk.crv === 'Ed25519' ? ['EdDSA'] : `has unsupported crv ${JSON.stringify(jwk.crv)}`;
}
