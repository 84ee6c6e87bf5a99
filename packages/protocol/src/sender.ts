/**
 * Sender-constrained tokens (DESIGN §13): the constants gateways and workers must agree on.
 */

/**
 * JWS algorithms a DPoP proof may be signed with: asymmetric only (RFC 9449 §4.3 step 5 — a
 * MAC proves nothing about a key the client holds). Advertised in the `algs` parameter of a
 * `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1).
 */
export const DPOP_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'EdDSA',
  'Ed25519',
] as const;

/** A DPoP proof's `iat` may be at most this many seconds away from the verifier's clock. */
export const DPOP_PROOF_MAX_AGE_SECONDS = 60;

/** DPoP proof headers longer than this are refused unread (an RSA-4096 proof is about 1.5 KiB). */
export const MAX_DPOP_PROOF_BYTES = 8 * 1024;

/** Default of `GATEWAY_CLIENT_CERT_HEADER`: nginx's `$ssl_client_escaped_cert` (URL-encoded PEM). */
export const DEFAULT_CLIENT_CERT_HEADER = 'x-ssl-client-cert';

/** How a token is bound to its sender (decision events and the reply identity). */
export type TokenBinding = 'dpop' | 'mtls' | 'dpop+mtls';
