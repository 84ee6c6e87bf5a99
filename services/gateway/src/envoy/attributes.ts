import {
  bodyMediaType,
  type CheckRequest,
  canonicalHeaders,
  isRefusal,
  isReservedHeader,
  MAX_CHECK_HEADERS,
  parseRequestTarget,
  queryCharsetRefusal,
  type RequestHeaders,
  type RequestRefusal,
  readRequestBody,
  refuse,
} from '@authz/protocol';
import { HOP_BY_HOP } from '../inbound.js';
import { clientOrigin } from '../origin.js';
import { certificateSha256, type SenderOptions, XFCC } from '../sender.js';
import { FORWARDED_HEADERS } from '../trusted-proxies.js';
import { PARTIAL_BODY_HEADER, wholeBodyProblem } from './body.js';
import { joinedCredential } from './joined-headers.js';

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
  query?: string;
  fragment?: string;
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

/** What mapping a CheckRequest needs besides the message. */
export interface AttributesOptions {
  /** GATEWAY_MAX_CHECK_BODY_BYTES: a larger body is unavailable to policies */
  maxCheckBodyBytes: number;
  /** GATEWAY_PUBLIC_URL, the client certificate header, GATEWAY_TRUSTED_PROXIES */
  sender: SenderOptions;
  /** the address of the gRPC peer that sent the message: Envoy, when it is in GATEWAY_TRUSTED_PROXIES */
  peerAddress: string | undefined;
}

/**
 * Maps `attributes.request.http` and `attributes.source` of an ext_authz CheckRequest to the
 * check request workers decide on, under DESIGN §10 with the same rules as every other entry:
 * the target ({@link parseRequestTarget}), the headers ({@link canonicalHeaders}), the body
 * (`readRequestBody`, shown only when Envoy says it is whole) and the trusted proxies.
 *
 * Envoy fills the message from one request, so fields that disagree — `query` or `fragment`
 * beside `path`, a pseudo-header beside its field, `headers` beside `header_map`, `body` beside
 * `raw_body` — are not Envoy's and are refused rather than guessed between. The gRPC peer's word
 * about the network (`source.address`, `source.certificate`, `scheme`) is believed only when the
 * peer is a trusted proxy; `X-Forwarded-*` only when `source.address` is one too (a load balancer
 * in front of Envoy), as in proxy mode. `origin` (a DPoP proof's `htu`) is `GATEWAY_PUBLIC_URL`
 * when set, else the believed scheme and Envoy's `host`.
 */
export function checkFromAttributes(
  message: EnvoyCheckRequest,
  options: AttributesOptions,
): EnvoyCheck | RequestRefusal {
  const http = message.attributes?.request?.http;
  if (!http?.method || !http.path)
    return refuse(
      'envoy_attributes',
      'the ext_authz CheckRequest carries no attributes.request.http method and path',
    );
  // Envoy always leaves these empty: the query travels in `path`, a fragment is never sent.
  for (const field of ['query', 'fragment'] as const) {
    if (http[field])
      return refuse(
        'envoy_attributes',
        `attributes.request.http.${field} is set beside path; Envoy sends the whole target in path, so the gateway does not guess which one the upstream gets`,
      );
  }
  const target = parseRequestTarget(http.path);
  if (isRefusal(target)) return target;
  const listed = headerList(http);
  if (isRefusal(listed)) return listed;
  const { merged, identityLike } = listed;
  const headers = canonicalHeaders(merged);
  if (isRefusal(headers)) return headers;
  const joined = joinedCredential(headers);
  if (joined !== undefined) return joined;
  const contentType = bodyMediaType(headers);
  if (isRefusal(contentType)) return contentType;
  const charset = queryCharsetRefusal(target.query, contentType);
  if (charset !== undefined) return charset;

  const network = believedNetwork(message, headers, options);
  const check: CheckRequest = {
    method: http.method.toUpperCase(),
    uri: target.raw,
    headers,
    remote_addr: network.remoteAddr,
    scheme: network.peerTrusted && http.scheme ? http.scheme : 'http',
  };
  if (http.host && headers.host === undefined) headers.host = http.host;
  const origin = clientOrigin(options.sender.publicOrigin, {
    scheme: check.scheme,
    host: http.host || undefined,
  });
  if (origin !== undefined) check.origin = origin;
  const body = bodyOf(http, headers, contentType, check.method, options.maxCheckBodyBytes);
  if (isRefusal(body)) return body;
  Object.assign(check, body);
  const certificate = message.attributes?.source?.certificate;
  if (certificate && network.peerTrusted) {
    const thumbprint = certificateSha256(certificate);
    if (thumbprint === undefined)
      return refuse('envoy_attributes', 'attributes.source.certificate is not a URL-encoded PEM certificate');
    // DESIGN §13: the certificate counts only as the thumbprint a trusted Envoy saw.
    check.client_cert_sha256 = thumbprint;
  }
  return { check, identityLike };
}

/**
 * What the gateway believes of the network (DESIGN §10): the gRPC peer is trusted or not; the
 * client's address is the trusted peer's `source.address`, or the rightmost untrusted
 * `X-Forwarded-For` hop when that source is itself a trusted proxy, or else the untrusted peer
 * itself. Removes from `headers` the forwarding headers that are not believed and the
 * certificate headers (a certificate counts only as `source.certificate`'s thumbprint).
 */
function believedNetwork(
  message: EnvoyCheckRequest,
  headers: RequestHeaders,
  { sender, peerAddress }: AttributesOptions,
): { peerTrusted: boolean; remoteAddr: string } {
  const trusted = sender.trustedProxies;
  const peerTrusted = trusted.trusts(peerAddress);
  const source = message.attributes?.source?.address?.socket_address?.address ?? '';
  if (!peerTrusted || !trusted.trusts(source)) for (const name of FORWARDED_HEADERS) delete headers[name];
  delete headers[sender.clientCertHeader];
  delete headers[XFCC];
  if (!peerTrusted) return { peerTrusted, remoteAddr: trusted.clientAddress(peerAddress ?? '', undefined) };
  const forwardedFor = headers['x-forwarded-for'];
  return {
    peerTrusted,
    remoteAddr: trusted.clientAddress(source, forwardedFor === undefined ? undefined : [forwardedFor].flat()),
  };
}

/** The request's headers from Envoy's one encoding of them, checked against the fields they repeat. */
interface HeaderList {
  /** lower-case names; a repeated header (header_map) is a list */
  merged: Record<string, string | string[]>;
  identityLike: string[];
}

/**
 * Headers from `headers` (Envoy joins repeats with ",") or `header_map` (`encode_raw_headers`:
 * repeats kept apart, values in `raw_value`). Envoy fills exactly one; both, a `value` beside a
 * different `raw_value`, or a pseudo-header (`:path`, `:method`, `:authority`, `:scheme`) or
 * `host` other than its field is refused. Pseudo- and hop-by-hop headers are then dropped.
 */
function headerList(http: EnvoyHttpRequest): HeaderList | RequestRefusal {
  const map = http.headers === undefined ? [] : Object.keys(http.headers);
  const raw = http.header_map?.headers ?? [];
  if (map.length > 0 && raw.length > 0)
    return refuse(
      'envoy_attributes',
      'the ext_authz CheckRequest carries both headers and header_map; Envoy sends one, so the gateway does not guess which one the upstream gets',
    );
  const entries: Array<[string, string]> = [];
  for (const name of map) entries.push([name, http.headers?.[name] ?? '']);
  for (const h of raw) {
    const bytes = h.raw_value && h.raw_value.length > 0 ? h.raw_value.toString('latin1') : undefined;
    if (bytes !== undefined && h.value && h.value !== bytes)
      return refuse(
        'envoy_attributes',
        `header_map carries ${h.key ?? 'a header'} with a value and a different raw_value`,
      );
    if (h.key) entries.push([h.key, bytes ?? h.value ?? '']);
  }
  // DESIGN §10: nothing is truncated — too many headers refuse the request.
  if (entries.length > MAX_CHECK_HEADERS)
    return refuse(
      'header_too_many',
      `the request carries ${entries.length} headers, more than ${MAX_CHECK_HEADERS}`,
      431,
    );
  const fields: Record<string, string | undefined> = {
    ':path': http.path,
    ':method': http.method,
    ':authority': http.host,
    host: http.host,
    ':scheme': http.scheme,
  };
  const merged: Record<string, string | string[]> = Object.create(null);
  const identityLike = new Set<string>();
  for (const [rawName, value] of entries) {
    const name = rawName.toLowerCase();
    const field = fields[name];
    if (field !== undefined && field !== '' && value !== field)
      return refuse(
        'envoy_attributes',
        `the ${name} header differs from its attributes.request.http field; the gateway does not guess which one the upstream gets`,
      );
    if (name.startsWith(':') || HOP_BY_HOP.has(name)) continue;
    if (isReservedHeader(name)) identityLike.add(name);
    const prior = merged[name];
    merged[name] = prior === undefined ? value : [prior, value].flat();
  }
  return { merged: { ...merged }, identityLike: [...identityLike] };
}

type BodyPart =
  | { body: unknown }
  | { body_form: string }
  | { body_unavailable: string }
  | Record<string, never>;

/**
 * The body as policies may see it: parsed JSON (or a POST's form, `body_form`) when Envoy sent it
 * whole, else the reason it is unavailable; a body sent twice (`body` and `raw_body`) is refused.
 */
function bodyOf(
  http: EnvoyHttpRequest,
  headers: RequestHeaders,
  contentType: string | undefined,
  method: string,
  maxBytes: number,
): BodyPart | RequestRefusal {
  const raw = http.raw_body && http.raw_body.length > 0 ? http.raw_body : undefined;
  if (raw && http.body)
    return refuse(
      'envoy_attributes',
      'the ext_authz CheckRequest carries both body and raw_body; Envoy sends one, so the gateway does not guess which one the upstream gets',
    );
  const bytes = raw ?? (http.body ? Buffer.from(http.body, 'utf8') : undefined);
  // No body sent is not "no body": Envoy sends none without with_request_body, and an HTTP/2 body
  // needs no Content-Length to announce it — while Ring reads a GET's form body as parameters.
  if (!bytes) return { body_unavailable: 'the proxy did not send the body' };
  const cut = wholeBodyProblem(headers[PARTIAL_BODY_HEADER], bytes.length, headers['content-length']);
  if (cut !== undefined) return { body_unavailable: cut };
  if (bytes.length > maxBytes) return { body_unavailable: `the body is larger than ${maxBytes} bytes` };
  // The one body model (DESIGN §10): strict JSON (duplicate keys, BOM, depth refused) or unavailable.
  const contentEncoding = headers['content-encoding'];
  const view = readRequestBody(
    bytes,
    contentType,
    contentEncoding === undefined ? undefined : [contentEncoding].flat().join(', '),
    method,
  );
  if (view === undefined) return {};
  if (isRefusal(view)) return view;
  if ('json' in view) return { body: view.json };
  return 'form' in view ? { body_form: view.form } : { body_unavailable: view.unavailable };
}
