import { KeyObject } from 'node:crypto';
import {
  DPOP_ALGORITHMS,
  DPOP_PROOF_MAX_AGE_SECONDS,
  hashToken,
  type JwsAlgorithm,
  MAX_DPOP_PROOF_BYTES,
} from '@authz/protocol';
import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { DpopProofError } from '../errors.js';
import { type ParsedJwt, parseJwt } from '../jwt/compact.js';
import { keyMismatch } from '../keys/algorithms.js';
import { verifySignature } from '../keys/signature.js';

/** What a DPoP proof must fit: the request it came with and the access token it travels beside. */
export interface DpopRequest {
  /** HTTP method, upper case */
  method: string;
  /** the URL the client addressed, without query and fragment (see {@link htuOf}) */
  url: string;
  /** the access token of `Authorization: DPoP <token>` */
  accessToken: string;
  /** ms since the epoch */
  now: number;
}

/** A proof that passed every check of RFC 9449 §4.3 that needs no state. */
export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key (base64url) */
  jkt: string;
  jti: string;
  /** seconds since the epoch */
  iat: number;
}

const ALGORITHMS: readonly string[] = DPOP_ALGORITHMS;
const ALGS_TEXT = DPOP_ALGORITHMS.join(', ');
/** JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const MAX_JTI_LENGTH = 256;

const refuse = (check: string, message: string, cause?: unknown) =>
  new DpopProofError('ERR_DPOP_PROOF_INVALID', check, message, cause === undefined ? undefined : { cause });

/**
 * Verifies a DPoP proof JWT against the request it came with (RFC 9449 §4.3): `typ: dpop+jwt`,
 * an asymmetric `alg`, a public `jwk` in the header that verifies the signature (jose), `htm`,
 * `htu`, `iat` within {@link DPOP_PROOF_MAX_AGE_SECONDS}, a `jti`, and `ath` = SHA-256 of the
 * access token. Resolves with the key's RFC 7638 thumbprint for the `cnf.jkt` comparison;
 * `jti` uniqueness is the caller's (it needs the cluster). Rejects with {@link DpopProofError}.
 *
 * @example
 * const proof = await verifyDpopProof(header, { method: 'GET', url: 'https://api.example.com/fhir/Patient', accessToken, now: Date.now() });
 * if (proof.jkt !== claims.cnf.jkt) refuse();
 */
export async function verifyDpopProof(proof: string, request: DpopRequest): Promise<VerifiedDpopProof> {
  if (proof.length > MAX_DPOP_PROOF_BYTES) {
    throw refuse(
      'size',
      `The DPoP proof is longer than ${MAX_DPOP_PROOF_BYTES} bytes and was refused unread.`,
    );
  }
  const parsed = parseProof(proof);
  const { jwk, alg } = checkHeader(parsed.header);
  const { key, jkt } = await proofKey(jwk, alg);
  // jose imported and vetted the key; the signature check is node:crypto's, synchronous, as for
  // every JWT here (keys/signature.ts) — WebCrypto's promise and thread-pool hop cost more.
  if (!verifySignature({ alg: signatureAlg(alg), key }, parsed.signingInput, parsed.signature)) {
    throw refuse('signature', 'The DPoP proof signature does not verify with the jwk in its header.');
  }
  checkClaims(parsed.payload, request);
  return { jkt, jti: parsed.payload.jti as string, iat: parsed.payload.iat as number };
}

/** `Ed25519` (RFC 9864) is EdDSA over Ed25519, the one curve EdDSA keys have here. */
const signatureAlg = (alg: DpopAlgorithm): JwsAlgorithm => (alg === 'Ed25519' ? 'EdDSA' : alg);

type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

function parseProof(proof: string): ParsedJwt {
  let parsed: ParsedJwt | undefined;
  try {
    parsed = parseJwt(proof);
  } catch (err) {
    throw refuse('jws', 'The DPoP proof is not a valid JWS: its payload or signature is malformed.', err);
  }
  if (parsed === undefined) {
    throw refuse('jws', 'The DPoP header is not a JWS compact serialization with a JSON header.');
  }
  return parsed;
}

interface ProofKey {
  key: KeyObject;
  /** RFC 7638 SHA-256 thumbprint */
  jkt: string;
}

/**
 * Imported proof keys by `alg` and JWK. A client signs every proof with the same key (RFC 9449
 * §2), so the import and the thumbprint — more than half the cost of a proof — are paid once per
 * key. Bounded (the oldest entry goes first), so clients minting a key per proof only lose the
 * saving. A key that does not import is not kept.
 */
const PROOF_KEYS = new Map<string, Promise<ProofKey>>();
const MAX_PROOF_KEYS = 10_000;

function proofKey(jwk: JWK, alg: DpopAlgorithm): Promise<ProofKey> {
  // The whole JWK as sent: any member that could change the import is part of the cache key.
  const id = `${alg}:${JSON.stringify(jwk)}`;
  let entry = PROOF_KEYS.get(id);
  if (entry === undefined) {
    if (PROOF_KEYS.size >= MAX_PROOF_KEYS) PROOF_KEYS.delete(PROOF_KEYS.keys().next().value as string);
    entry = importProofKey(jwk, alg);
    PROOF_KEYS.set(id, entry);
    entry.catch(() => PROOF_KEYS.delete(id));
  }
  return entry;
}

async function importProofKey(jwk: JWK, alg: DpopAlgorithm): Promise<ProofKey> {
  let key: KeyObject;
  try {
    // jose validates the JWK's members against the algorithm (as its EmbeddedJWK would).
    const imported = await importJWK({ ...jwk, ext: true }, alg);
    if (imported instanceof Uint8Array) throw new TypeError('a symmetric key');
    key = KeyObject.from(imported);
  } catch (err) {
    throw refuse('jwk', `The DPoP proof header's jwk is not a usable ${alg} public key.`, err);
  }
  // checkHeader refused private members; this is the key's own word on it, and on its size and curve.
  const mismatch = key.type === 'public' ? keyMismatch(key, signatureAlg(alg)) : 'is not a public key';
  if (mismatch !== undefined) throw refuse('jwk', `The DPoP proof header's jwk ${mismatch}.`);
  return { key, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

/**
 * Header checks that need no key, each with its own reason (RFC 9449 §4.3 steps 2–6), and the
 * JWS rules every JWT here passes: no `crit` extension (RFC 7515 §4.1.11), no `b64: false`.
 */
function checkHeader(header: Readonly<Record<string, unknown>>): { jwk: JWK; alg: DpopAlgorithm } {
  if (header.typ !== 'dpop+jwt') {
    throw refuse('typ', `The DPoP proof's typ is ${JSON.stringify(header.typ)}; it must be "dpop+jwt".`);
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || !ALGORITHMS.includes(alg)) {
    throw refuse(
      'alg',
      `The DPoP proof is signed with ${JSON.stringify(alg)}; DPoP proofs must use an asymmetric algorithm (${ALGS_TEXT}).`,
    );
  }
  if (header.crit !== undefined || (header.b64 !== undefined && header.b64 !== true)) {
    throw refuse('jws', 'The DPoP proof uses JWS extensions (crit or b64) that are not accepted.');
  }
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw refuse('jwk', 'The DPoP proof header carries no jwk (the public key that signed it).');
  }
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) {
    throw refuse(
      'jwk',
      'The DPoP proof header carries a private or symmetric key; only the public key may be sent (and the private one must now be considered compromised).',
    );
  }
  return { jwk: jwk as JWK, alg: alg as DpopAlgorithm };
}

/** Payload checks (RFC 9449 §4.3 steps 7–11). */
function checkClaims(payload: Record<string, unknown>, request: DpopRequest): void {
  const { htm, htu, iat, jti, ath } = payload;
  if (htm !== request.method) {
    throw refuse(
      'htm',
      `The DPoP proof's htm is ${JSON.stringify(htm)} but the request method is ${request.method}; sign a proof for this request.`,
    );
  }
  const proofUrl = typeof htu === 'string' ? htuOf(htu) : undefined;
  if (proofUrl === undefined || proofUrl !== request.url) {
    throw refuse(
      'htu',
      `The DPoP proof's htu is ${JSON.stringify(typeof htu === 'string' ? htu.slice(0, 200) : htu)} but the request was made to ${request.url}; sign a proof for the URL the request is sent to, without query and fragment.`,
    );
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    throw refuse('iat', 'The DPoP proof has no numeric iat (issued-at) claim.');
  }
  const age = request.now / 1000 - iat;
  if (Math.abs(age) > DPOP_PROOF_MAX_AGE_SECONDS) {
    throw refuse(
      'iat',
      `The DPoP proof was issued ${Math.round(Math.abs(age))} s ${age > 0 ? 'ago' : 'in the future'}; proofs are accepted within ${DPOP_PROOF_MAX_AGE_SECONDS} s of the server's clock. Make a fresh proof for each request (and check the client's clock).`,
    );
  }
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) {
    throw refuse('jti', `The DPoP proof needs a jti: a unique string of 1 to ${MAX_JTI_LENGTH} characters.`);
  }
  if (ath !== hashToken(request.accessToken)) {
    throw refuse(
      'ath',
      "The DPoP proof's ath is not the base64url SHA-256 of the access token it was sent with; make the proof for this token.",
    );
  }
}

/**
 * A URL as `htu` comparison sees it (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2–6.2.3): scheme and
 * host lower-cased, the scheme's default port dropped, query and fragment removed. `undefined`
 * for anything that is not an absolute http(s) URL.
 *
 * @example htuOf('HTTPS://API.example.com:443/fhir/Patient?x=1') // 'https://api.example.com/fhir/Patient'
 */
export function htuOf(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  if (parsed.username !== '' || parsed.password !== '') return undefined;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
