import { createPrivateKey, createPublicKey, type KeyObject, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CheckReply } from '@authz/protocol';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { identityHeaders } from './responses.js';

/** The header that carries the signed identity to the upstream (DESIGN §14). */
export const ASSERTION_HEADER = 'x-authz-assertion';

/** Lifetime of one assertion: it vouches for one request, so it must not outlive it by much. */
export const ASSERTION_LIFETIME_SECONDS = 60;

/** What a signed assertion says about the request it vouches for. */
export interface AssertedRequest {
  method: string;
  /** `scheme://host/path` — RFC 9449 §4.2's `htu`: no query, no fragment */
  htu: string;
}

/** Signs identity assertions with the gateway's key; `jwks` is what `/_authz/jwks.json` serves. */
export interface AssertionSigner {
  readonly kid: string;
  readonly jwks: { keys: JWK[] };
  sign(reply: CheckReply, request: AssertedRequest): Promise<string>;
}

/** Settings of {@link loadAssertionSigner} (`GATEWAY_ASSERTION_*`). */
export interface AssertionSettings {
  keyFile: string;
  issuer: string;
  audience?: string;
}

/** A private key from a PEM file, with the JWS algorithm it signs with. */
export interface AssertionKey {
  key: KeyObject;
  alg: 'ES256' | 'RS256';
}

/**
 * Reads the PEM private key (PKCS#8, SEC1 or PKCS#1). Only EC P-256 (ES256) and RSA of at least
 * 2048 bits (RS256, RFC 7518 §3.3) sign; anything else is a start-up error naming the problem.
 */
export function readAssertionKey(file: string): AssertionKey {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error(`${file} does not hold a PEM private key`);
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return { key, alg: 'ES256' };
  if (key.asymmetricKeyType === 'rsa') {
    if ((details?.modulusLength ?? 0) < 2048) throw new Error(`${file} is an RSA key shorter than 2048 bits`);
    return { key, alg: 'RS256' };
  }
  const kind = key.asymmetricKeyType === 'ec' ? `EC ${details?.namedCurve}` : key.asymmetricKeyType;
  throw new Error(`${file} is a ${kind} key; use EC P-256 or RSA`);
}

/**
 * Prepares the signer once at start-up: the public JWK, its RFC 7638 thumbprint as `kid` (so
 * gateways sharing a key file publish the same key set), the protected header's base64url
 * segment and the JSON of the claims that never change. Each assertion then costs one JSON
 * template, one base64url encoding and one `crypto.sign` on libuv's thread pool — no JOSE
 * library on the hot path (jose's `SignJWT` cost 3–4× the signature itself per assertion,
 * measured in-process), and the signature computed beside the event loop, not on it.
 */
export async function loadAssertionSigner(
  settings: AssertionSettings,
  assertionKey: AssertionKey = readAssertionKey(settings.keyFile),
): Promise<AssertionSigner> {
  const { key, alg } = assertionKey;
  const publicJwk = await exportJWK(createPublicKey(key));
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const headerSegment = base64url(JSON.stringify({ alg, kid, typ: 'JWT' }));
  // ES256 signatures are R || S (RFC 7518 §3.4), not DER; RS256 is PKCS#1 v1.5, node's default.
  const signingKey = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  const issuer = `{"iss":${JSON.stringify(settings.issuer)}`;
  const audience = settings.audience === undefined ? '' : `,"aud":${JSON.stringify(settings.audience)}`;
  return {
    kid,
    jwks: { keys: [{ ...publicJwk, kid, alg, use: 'sig' }] },
    sign: (reply, request) => {
      const now = Math.floor(Date.now() / 1000);
      const identity = reply.identity;
      const subject = identity?.user ?? identity?.sub;
      // Every variable part goes through JSON.stringify; only the constant parts are spliced.
      const claims =
        `${issuer}${subject ? `,"sub":${JSON.stringify(subject)}` : ''}${audience}` +
        `,"iat":${now},"exp":${now + ASSERTION_LIFETIME_SECONDS},"jti":"${randomUUID()}"` +
        `,"htm":${JSON.stringify(request.method)},"htu":${JSON.stringify(request.htu)}` +
        `,"authz":${JSON.stringify(authzClaim(reply))}}`;
      const input = `${headerSegment}.${base64url(claims)}`;
      // The input is base64url (ASCII): latin1 is the cheapest exact encoding. With a callback,
      // node signs on its thread pool: the ~40 µs of ECDSA leave the gateway's one event loop.
      return new Promise((resolve, reject) =>
        sign('sha256', Buffer.from(input, 'latin1'), signingKey, (err, signature) =>
          err ? reject(err) : resolve(`${input}.${signature.toString('base64url')}`),
        ),
      );
    },
  };
}

/** base64url of a string's UTF-8 bytes (RFC 7515 §2, no padding). */
function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** `authz: {policy, introspector, client, scope, patient}`, each only when the decision knows it. */
function authzClaim(reply: CheckReply): Record<string, unknown> {
  // scope and patient come from SMART-aware identities (DESIGN §13) when the worker sends them.
  const identity = reply.identity as
    | (CheckReply['identity'] & { scope?: unknown; patient?: unknown })
    | undefined;
  const claim: Record<string, unknown> = {};
  if (reply.policy) claim.policy = reply.policy;
  if (identity?.introspector) claim.introspector = identity.introspector;
  if (identity?.client) claim.client = identity.client;
  if (identity?.scope !== undefined) claim.scope = identity.scope;
  if (identity?.patient !== undefined) claim.patient = identity.patient;
  return claim;
}

/**
 * The headers an allowed request carries to the upstream: the identity headers and, when the
 * gateway signs, `X-Authz-Assertion` for exactly the checked method and target.
 */
export async function allowedHeaders(
  reply: CheckReply,
  signer: AssertionSigner | undefined,
  request: AssertedRequest,
): Promise<Record<string, string>> {
  const headers = identityHeaders(reply);
  if (signer) headers[ASSERTION_HEADER] = await signer.sign(reply, request);
  return headers;
}
