import { createHash, X509Certificate } from 'node:crypto';
import { type CheckRequest, isRefusal, MAX_CHECK_HEADERS, readRequestBody } from '@authz/protocol';
import { HOP_BY_HOP } from '../inbound.js';
import { clientOrigin } from '../origin.js';
import { targetProblem } from './target.js';

/** `envoy.config.core.v3.HeaderValue` as decoded (proto field names). */
export interface EnvoyHeaderValue {
  key?: string;
  value?: string;
  raw_value?: Buffer;
}

/** `envoy.service.auth.v3.AttributeContext.HttpRequest`, the fields the gateway reads. */
export interface EnvoyHttpRequest {
  method?: string;
  headers?: Record<string, string>;
  header_map?: { headers?: EnvoyHeaderValue[] };
  path?: string;
  host?: string;
  scheme?: string;
  body?: string;
  raw_body?: Buffer;
}

/** `envoy.service.auth.v3.CheckRequest` as decoded by the gateway's proto loader. */
export interface EnvoyCheckRequest {
  attributes?: {
    source?: {
      address?: { socket_address?: { address?: string } };
      certificate?: string;
    };
    request?: { http?: EnvoyHttpRequest };
  };
}

/** A check request built from Envoy's attributes, with what the answer needs to know. */
export interface EnvoyCheck {
  check: CheckRequest;
  /** client-sent headers named like identity headers (`x-authz-*`, `_` variants); never checked */
  identityLike: string[];
}

/** A request the gateway refuses before asking the workers. */
export interface EnvoyRefusal {
  status: 400 | 413 | 431;
  reason: string;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** DESIGN §10: a header that reads as `x-authz-*` once lower-cased with `_` taken as `-`. */
export function isIdentityLike(name: string): boolean {
  return name.toLowerCase().replaceAll('_', '-').startsWith('x-authz-');
}

/**
 * Maps `attributes.request.http` and `attributes.source` of an ext_authz CheckRequest to the
 * check request workers decide on, under DESIGN §10: origin-form target or 400, identity-like
 * headers never reach a policy, a body is shown only when whole and JSON, else marked unavailable.
 * The check's `origin` (a DPoP proof's `htu`) is `publicOrigin` (`GATEWAY_PUBLIC_URL`) when set,
 * else Envoy's own `scheme` and `host`: client-sent `X-Forwarded-*` headers are not Envoy's word.
 */
export function checkFromAttributes(
  message: EnvoyCheckRequest,
  maxCheckBodyBytes: number,
  publicOrigin?: string,
): EnvoyCheck | EnvoyRefusal {
  const http = message.attributes?.request?.http;
  if (!http?.method || !http.path)
    return {
      status: 400,
      reason: 'the ext_authz CheckRequest carries no attributes.request.http method and path',
    };
  const problem = targetProblem(http.path);
  if (problem) return { status: 400, reason: problem };
  const headers = headersOf(http);
  if (typeof headers === 'string') return { status: 431, reason: headers };
  const identityLike: string[] = [];
  for (const name of Object.keys(headers)) {
    if (isIdentityLike(name)) {
      identityLike.push(name);
      delete headers[name];
    }
  }
  if (http.host && headers.host === undefined) headers.host = http.host;
  const check: CheckRequest = {
    method: http.method.toUpperCase(),
    uri: http.path,
    headers,
    remote_addr: message.attributes?.source?.address?.socket_address?.address ?? '',
    scheme: http.scheme || 'http',
  };
  const origin = clientOrigin(publicOrigin, {
    scheme: check.scheme,
    host: http.host || single(headers.host),
  });
  if (origin !== undefined) check.origin = origin;
  const body = bodyOf(http, headers, check.method, maxCheckBodyBytes);
  if ('refused' in body) return { status: 400, reason: body.refused };
  Object.assign(check, body);
  const certificate = message.attributes?.source?.certificate;
  if (certificate) {
    const thumbprint = certificateThumbprint(certificate);
    if (thumbprint === undefined)
      return { status: 400, reason: 'attributes.source.certificate is not a URL-encoded PEM certificate' };
    // DESIGN §13: the certificate reaches the check as its thumbprint, for mTLS-bound tokens.
    (check as CheckRequest & { client_cert_sha256?: string }).client_cert_sha256 = thumbprint;
  }
  return { check, identityLike };
}

/** Headers from `headers` (Envoy joins repeats with ",") or `header_map` (encode_raw_headers: repeats kept). */
function headersOf(http: EnvoyHttpRequest): Record<string, string | string[]> | string {
  const headers: Record<string, string | string[]> = Object.create(null);
  let count = 0;
  const add = (rawName: string, value: string) => {
    const name = rawName.toLowerCase();
    // Pseudo-headers (:path, :authority, …) are the request line, already mapped field by field.
    if (name.startsWith(':') || HOP_BY_HOP.has(name)) return;
    count++;
    const existing = headers[name];
    headers[name] =
      existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  };
  const raw = http.header_map?.headers;
  if (raw && raw.length > 0) {
    for (const h of raw)
      if (h.key) add(h.key, h.raw_value ? h.raw_value.toString('latin1') : (h.value ?? ''));
  } else if (http.headers) {
    for (const name of Object.keys(http.headers)) add(name, http.headers[name] ?? '');
  }
  // DESIGN §10: nothing is truncated — too many headers refuse the request.
  if (count > MAX_CHECK_HEADERS)
    return `the request carries ${count} headers, more than ${MAX_CHECK_HEADERS}`;
  return { ...headers };
}

type BodyPart =
  | { body: unknown }
  | { body_form: string }
  | { body_unavailable: string }
  | Record<string, never>
  | { refused: string };

/** The body as policies may see it: parsed JSON when whole, else the reason it is unavailable. */
function bodyOf(
  http: EnvoyHttpRequest,
  headers: Record<string, string | string[]>,
  method: string,
  maxBytes: number,
): BodyPart {
  const bytes =
    http.raw_body && http.raw_body.length > 0
      ? http.raw_body
      : http.body
        ? Buffer.from(http.body, 'utf8')
        : undefined;
  if (!bytes) {
    const announced =
      Number(single(headers['content-length']) ?? 0) > 0 || headers['transfer-encoding'] !== undefined;
    return announced || BODY_METHODS.has(method)
      ? { body_unavailable: 'the proxy did not send the body' }
      : {};
  }
  // Envoy marks a body cut at with_request_body.max_request_bytes (allow_partial_message).
  if (single(headers['x-envoy-auth-partial-body']) === 'true')
    return { body_unavailable: 'the proxy sent only part of the body' };
  if (bytes.length > maxBytes) return { body_unavailable: `the body is larger than ${maxBytes} bytes` };
  // The one body model (DESIGN §10): strict JSON (duplicate keys, BOM, depth refused) or unavailable.
  const view = readRequestBody(
    bytes,
    single(headers['content-type']),
    single(headers['content-encoding']),
    method,
  );
  if (view === undefined) return {};
  if (isRefusal(view)) return { refused: view.reason };
  if ('json' in view) return { body: view.json };
  return 'form' in view ? { body_form: view.form } : { body_unavailable: view.unavailable };
}

/** base64url SHA-256 of the DER certificate (RFC 8705 §3.1 `x5t#S256`), from Envoy's URL-encoded PEM. */
function certificateThumbprint(urlEncodedPem: string): string | undefined {
  try {
    const der = new X509Certificate(decodeURIComponent(urlEncodedPem)).raw;
    return createHash('sha256').update(der).digest('base64url');
  } catch {
    return undefined;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
