import { createHash, X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CheckRequest } from '@authz/protocol';
import { clientOrigin } from './origin.js';
import type { TrustedProxies } from './trusted-proxies.js';

/**
 * What the gateway tells a worker about the sender of a request (DESIGN §13): the origin the
 * client addressed (a DPoP proof's `htu`) and the client certificate a TLS-terminating proxy
 * saw (RFC 8705 certificate-bound tokens).
 */
export interface SenderOptions {
  /** `GATEWAY_PUBLIC_URL` as an origin (`https://api.example.com`), when set */
  publicOrigin?: string;
  /** `GATEWAY_CLIENT_CERT_HEADER`, lower case (default `x-ssl-client-cert`) */
  clientCertHeader: string;
  /** peers whose forwarded headers (Host, Proto, client certificate) are believed */
  trustedProxies: TrustedProxies;
}

/** Envoy's client certificate details header (`Hash=<hex SHA-256 of the DER>`). */
export const XFCC = 'x-forwarded-client-cert';

/**
 * Adds `origin` and `client_cert_sha256` to a check request and removes the certificate headers
 * from its `headers` (the thumbprint is the only way a certificate counts). Forwarded headers and
 * certificates are believed only from a trusted peer (DESIGN §10). Returns a reason for a 400
 * when a trusted proxy sent a certificate header that cannot be read or is ambiguous.
 */
export function addSenderFacts(
  check: CheckRequest,
  req: IncomingMessage,
  options: SenderOptions,
): string | undefined {
  const trusted = options.trustedProxies.trusts(req.socket.remoteAddress);
  const origin = requestOrigin(req, options.publicOrigin, trusted);
  if (origin !== undefined) check.origin = origin;
  if (check.headers) {
    delete check.headers[options.clientCertHeader];
    delete check.headers[XFCC];
  }
  if (!trusted) return undefined;
  const cert = clientCertificateSha256(req, options.clientCertHeader);
  if (typeof cert === 'object') return cert.problem;
  if (cert !== undefined) check.client_cert_sha256 = cert;
  return undefined;
}

/** The origin the client addressed, from this request's connection and trusted forwarded headers. */
function requestOrigin(
  req: IncomingMessage,
  publicOrigin: string | undefined,
  trusted: boolean,
): string | undefined {
  const encrypted = 'encrypted' in req.socket && req.socket.encrypted === true;
  return clientOrigin(publicOrigin, {
    scheme: encrypted ? 'https' : 'http',
    host: single(req.headers.host),
    forwardedProto: trusted ? single(req.headers['x-forwarded-proto']) : undefined,
    forwardedHost: trusted ? single(req.headers['x-forwarded-host']) : undefined,
  });
}

/**
 * SHA-256 of the client certificate's DER, base64url (RFC 8705 §3.1), from the configured header
 * (URL-encoded PEM, nginx `$ssl_client_escaped_cert`) or Envoy's XFCC `Hash=` (hex).
 */
export function clientCertificateSha256(
  req: IncomingMessage,
  headerName: string,
): string | undefined | { problem: string } {
  const pem = req.headers[headerName];
  const xfcc = req.headers[XFCC];
  const fromPem = pem === undefined || pem === '' ? undefined : pemThumbprint(pem, headerName);
  const fromXfcc = xfcc === undefined || xfcc === '' ? undefined : xfccThumbprint(xfcc);
  if (typeof fromPem === 'object') return fromPem;
  if (typeof fromXfcc === 'object') return fromXfcc;
  if (fromPem !== undefined && fromXfcc !== undefined && fromPem !== fromXfcc) {
    return { problem: `${headerName} and ${XFCC} name different client certificates` };
  }
  return fromPem ?? fromXfcc;
}

function pemThumbprint(value: string | string[], headerName: string): string | { problem: string } {
  if (Array.isArray(value)) return { problem: `the request carries more than one ${headerName} header` };
  return (
    certificateSha256(value) ?? {
      problem: `${headerName} from the trusted proxy is not a URL-encoded PEM certificate`,
    }
  );
}

/**
 * base64url SHA-256 of a certificate's DER (RFC 8705 §3.1 `x5t#S256`) from its URL-encoded PEM
 * (nginx `$ssl_client_escaped_cert`, Envoy's `attributes.source.certificate`); `undefined` when
 * the text is not one.
 */
export function certificateSha256(urlEncodedPem: string): string | undefined {
  try {
    const der = new X509Certificate(decodeURIComponent(urlEncodedPem)).raw;
    return createHash('sha256').update(der).digest('base64url');
  } catch {
    return undefined;
  }
}

/** Envoy XFCC: one element (one hop) whose `Hash` is the hex SHA-256 of the client certificate. */
function xfccThumbprint(value: string | string[]): string | { problem: string } {
  const elements = Array.isArray(value) ? value : splitOutsideQuotes(value, ',');
  if (elements.length !== 1) {
    return {
      problem: `${XFCC} names more than one certificate; configure Envoy with forward_client_cert_details: SANITIZE_SET`,
    };
  }
  const hashes = splitOutsideQuotes(elements[0]!, ';')
    .map((pair) => pair.trim())
    .filter((pair) => pair.toLowerCase().startsWith('hash='))
    .map((pair) => pair.slice(5).replace(/^"|"$/g, ''));
  if (hashes.length !== 1 || !/^[0-9a-fA-F]{64}$/.test(hashes[0]!)) {
    return {
      problem: `${XFCC} carries no single Hash=<hex SHA-256>; set_current_client_cert_details must include it`,
    };
  }
  return Buffer.from(hashes[0]!, 'hex').toString('base64url');
}

/** Splits on `sep` outside double-quoted strings (XFCC values may quote `,` and `;`). */
function splitOutsideQuotes(value: string, sep: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) || value === '' ? undefined : value;
}
