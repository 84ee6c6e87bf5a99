import { MAX_DPOP_PROOF_BYTES, MAX_TOKEN_BYTES } from '@authz/protocol';
import { htuOf, type PresentedToken, type SenderFacts } from '@authz/verifier';
import type { ConfigState } from './config-state.js';
import type { ParsedCheck } from './request.js';

/** A `DPoP` credential, or why the DPoP Authorization / proof headers are unusable. */
export type DpopCredentialResult = PresentedToken | { problem: string; dpop: true };

/**
 * The credential of `Authorization: DPoP <token>` (RFC 9449 §7.1) with its `DPoP` proof header,
 * or `undefined` when the Authorization scheme is not DPoP (Bearer and the rest are
 * request.ts's). A missing proof is left for the proof check to refuse with `invalid_dpop_proof`.
 */
export function dpopCredential(headers: Record<string, string | string[]>): DpopCredentialResult | undefined {
  const raw = headers.authorization;
  if (typeof raw !== 'string') return undefined;
  const value = raw.trim();
  const space = value.indexOf(' ');
  if (space < 0 || value.slice(0, space).toLowerCase() !== 'dpop') {
    return value.toLowerCase() === 'dpop'
      ? { problem: 'the Authorization header says DPoP but carries no token', dpop: true }
      : undefined;
  }
  const token = value.slice(space + 1).trim();
  if (token === '') return { problem: 'the Authorization header says DPoP but carries no token', dpop: true };
  if (token.length > MAX_TOKEN_BYTES) {
    return { problem: `the DPoP-bound token is longer than ${MAX_TOKEN_BYTES} bytes`, dpop: true };
  }
  const proof = headers.dpop;
  // RFC 9449 §4.3 step 1: exactly one DPoP header field.
  if (Array.isArray(proof))
    return { problem: 'the request carries more than one DPoP proof header', dpop: true };
  if (proof !== undefined && proof.length > MAX_DPOP_PROOF_BYTES) {
    return { problem: `the DPoP proof header is longer than ${MAX_DPOP_PROOF_BYTES} bytes`, dpop: true };
  }
  return proof === undefined ? { scheme: 'dpop', token } : { scheme: 'dpop', token, proof: proof.trim() };
}

/**
 * What a sender constraint is checked against (DESIGN §13): the method, the URL the client
 * addressed — the check request's `origin` (the gateway's `GATEWAY_PUBLIC_URL` or trusted
 * forwarded headers), else its `scheme` and `host` header — plus the path, the client
 * certificate's thumbprint, and the introspector's `dpop` setting.
 */
export function senderFacts(
  check: ParsedCheck,
  introspector: string,
  config: ConfigState,
  needsUrl: boolean,
): SenderFacts {
  const { request, method, path } = check;
  const host = request.headers.host;
  const origin =
    request.origin ??
    (typeof host === 'string' && host !== '' ? `${request.scheme ?? 'http'}://${host}` : undefined);
  return {
    method,
    // Only a DPoP proof needs the URL: Bearer requests skip the URL parse.
    url: needsUrl ? requestUrl(origin, path) : undefined,
    clientCertSha256: request.client_cert_sha256,
    dpopRequired: config.introspector(introspector)?.dpop === 'required',
  };
}

/** `origin` + `path` as htu comparison sees it; `undefined` unless both are what they claim to be. */
function requestUrl(origin: string | undefined, path: string): string | undefined {
  if (origin === undefined || !path.startsWith('/')) return undefined;
  const base = htuOf(origin);
  // An origin is scheme://host[:port] and nothing else: a path, query or userinfo is refused.
  if (
    base === undefined ||
    !base.endsWith('/') ||
    base.indexOf('/', base.indexOf('//') + 2) !== base.length - 1
  ) {
    return undefined;
  }
  return htuOf(base.slice(0, -1) + path);
}
