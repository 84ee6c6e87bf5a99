import type { JwsAlgorithm } from '@authz/protocol';
import { InvalidTokenError } from '../errors.js';
import { isKnownAlgorithm } from '../keys/algorithms.js';

/** A compact JWS whose header and payload are JSON objects; nothing in it is trusted yet. */
export interface ParsedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Record<string, unknown>;
  /** ASCII bytes of `header.payload`, what the signature covers (RFC 7515 §5.2) */
  readonly signingInput: Buffer;
  readonly signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Splits a compact JWT (RFC 7519 §7.2). Returns `undefined` when the token is not JWT-shaped —
 * not exactly three base64url parts, or a header that is not a JSON object — so the caller can
 * offer it to opaque introspection instead. A JWT-shaped token with a broken payload or
 * signature encoding is refused outright.
 */
export function parseJwt(token: string): ParsedJwt | undefined {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0 || token.indexOf('.', second + 1) >= 0) return undefined;
  const rawHeader = token.slice(0, first);
  const rawPayload = token.slice(first + 1, second);
  const rawSignature = token.slice(second + 1);
  if (rawHeader.length === 0 || !BASE64URL.test(rawHeader)) return undefined;
  const header = decodeJsonObject(rawHeader);
  if (header === undefined) return undefined;

  if (rawPayload.length === 0 || !BASE64URL.test(rawPayload)) {
    throw malformed('its payload is not base64url');
  }
  const payload = decodeJsonObject(rawPayload);
  if (payload === undefined) throw malformed('its payload is not a JSON object');
  if (!BASE64URL.test(rawSignature)) throw malformed('its signature is not base64url');
  const signature = Buffer.from(rawSignature, 'base64url');
  // base64url's last character can carry unused bits; insist on the one canonical spelling so
  // a signature has exactly one encoding.
  if (signature.toString('base64url') !== rawSignature)
    throw malformed('its signature is not canonical base64url');
  return { header, payload, signingInput: Buffer.from(token.slice(0, second), 'latin1'), signature };
}

function decodeJsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function malformed(why: string): InvalidTokenError {
  return new InvalidTokenError(
    'ERR_TOKEN_MALFORMED',
    `The bearer token looks like a JWT but ${why}; send the token exactly as issued.`,
  );
}

/**
 * The header rules every JWT must pass before any key is looked at: a signing algorithm this
 * verifier implements (never `none`, RFC 8725 §3.1), no `crit` extensions (RFC 7515 §4.1.11: we
 * understand none, so any is fatal), and no unencoded payload (`b64: false`, RFC 7797).
 * Returns the algorithm the token claims; the keys decide whether it is acceptable.
 */
export function checkHeader(header: Readonly<Record<string, unknown>>): JwsAlgorithm {
  const alg = header.alg;
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
    throw new InvalidTokenError(
      'ERR_JWS_ALG_NOT_ALLOWED',
      'The token is unsigned (alg "none"); unsigned tokens are never accepted.',
    );
  }
  if (header.crit !== undefined) {
    throw new InvalidTokenError(
      'ERR_JWS_CRIT_UNSUPPORTED',
      'The token marks header extensions as critical (crit), which this verifier does not implement; issue the token without crit.',
    );
  }
  if (header.b64 !== undefined && header.b64 !== true) {
    throw new InvalidTokenError(
      'ERR_JWS_CRIT_UNSUPPORTED',
      'The token uses an unencoded payload (b64: false, RFC 7797), which is not accepted; issue a standard JWT.',
    );
  }
  if (alg === undefined) {
    throw new InvalidTokenError(
      'ERR_JWS_ALG_NOT_ALLOWED',
      'The token header names no signing algorithm (alg); it cannot be verified.',
    );
  }
  if (!isKnownAlgorithm(alg)) {
    throw new InvalidTokenError(
      'ERR_JWS_ALG_NOT_ALLOWED',
      `The token's alg ${JSON.stringify(clip(alg))} is not a supported signing algorithm (HS, RS, PS, ES families or EdDSA).`,
    );
  }
  if (header.kid !== undefined && typeof header.kid !== 'string') {
    throw malformed('its kid header is not a string');
  }
  return alg;
}

/** Shortens a value taken from a token before it goes into a message. */
export function clip(value: unknown, max = 120): unknown {
  return typeof value === 'string' && value.length > max ? `${value.slice(0, max)}…` : value;
}
