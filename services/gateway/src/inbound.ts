import type { IncomingMessage } from 'node:http';
import {
  BODY_METHODS,
  type BodyView,
  bodyMediaType,
  type CheckRequest,
  canonicalHeaders,
  isRefusal,
  parseRequestTarget,
  queryCharsetRefusal,
  type RequestHeaders,
  type RequestRefusal,
  type RequestTarget,
  readRequestBody,
  refuse,
} from '@authz/protocol';
import { FORWARDED_HEADERS, type TrustedProxies } from './trusted-proxies.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe this connection, not the request. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * A client request in the gateway's hands, in canonical form (DESIGN §10): the check the worker
 * decides on, and the same target, headers and body bytes for the upstream.
 */
export interface InboundRequest {
  check: CheckRequest;
  target: RequestTarget;
  /** the checked headers (lower-case, reserved and untrusted forwarding headers dropped) */
  headers: RequestHeaders;
  /** whether the peer is a trusted proxy (its X-Forwarded-* are believed and passed on) */
  trustedPeer: boolean;
  /** the whole buffered body, when there is one */
  body?: Buffer;
  /** `body` when it was read as JSON: the exact text of `check.body`, spliced into the check message */
  bodyJson?: Buffer;
}

/** What reading a request needs. */
export interface InboundOptions {
  trustedProxies: TrustedProxies;
  /** GATEWAY_MAX_CHECK_BODY_BYTES */
  maxBodyBytes: number;
}

/**
 * Reads a request the gateway will proxy: target and headers checked, the whole body buffered
 * (Content-Length or chunked) up to `maxBodyBytes` and, when JSON, parsed for policies (a POST's
 * form is checked and carried as `body_form`). Refused: everything {@link parseRequestTarget} and
 * `canonicalHeaders` refuse, a body over the limit (413), more than one Content-Type, malformed
 * JSON or duplicate keys (400), a form body the query's rules refuse (400, 413).
 */
export async function readProxiedRequest(
  req: IncomingMessage,
  options: InboundOptions,
): Promise<InboundRequest | RequestRefusal> {
  const base = readHead(req, req.url ?? '/', options.trustedProxies);
  if (isRefusal(base)) return base;
  const coding = transferCoding(req);
  if (coding !== undefined) return coding;
  const declared = Number(single(base.headers['content-length']) ?? 0);
  if (declared > options.maxBodyBytes) return tooLarge(options.maxBodyBytes);
  const body = await readBody(req, options.maxBodyBytes);
  if (body === undefined) return tooLarge(options.maxBodyBytes);
  const view = readRequestBody(
    body,
    single(base.headers['content-type']),
    joined(base.headers['content-encoding']),
    req.method ?? 'GET',
  );
  if (isRefusal(view)) return view;
  const inbound: InboundRequest = { ...base, check: checkOf(req, base, options.trustedProxies) };
  if (body.length > 0) inbound.body = body;
  if (view !== undefined && 'json' in view) inbound.bodyJson = body;
  withBody(inbound.check, view);
  return inbound;
}

/** The parts of a request every entry point reads the same way: target and headers. */
export function readHead(
  req: IncomingMessage,
  uri: string,
  trusted: TrustedProxies,
  fields: HeaderFields = headerFields(req),
): Omit<InboundRequest, 'check'> | RequestRefusal {
  const target = parseRequestTarget(uri);
  if (isRefusal(target)) return target;
  const trustedPeer = trusted.trusts(req.socket.remoteAddress);
  const connection = fields.connection;
  const named =
    connection === undefined
      ? undefined
      : new Set(
          joined(connection)
            ?.toLowerCase()
            .split(/\s*,\s*/),
        );
  const headers = canonicalHeaders(
    fields,
    // DESIGN §10: forwarding headers from an untrusted peer are neither believed nor passed on.
    (name) =>
      HOP_BY_HOP.has(name) || named?.has(name) === true || (!trustedPeer && FORWARDED_HEADERS.has(name)),
  );
  if (isRefusal(headers)) return headers;
  const mediaType = bodyMediaType(headers);
  if (isRefusal(mediaType)) return mediaType;
  const charset = queryCharsetRefusal(target.query, mediaType);
  if (charset !== undefined) return charset;
  // The check's headers are its own to change (the sender facts take the certificate headers
  // out); canonicalHeaders hands back Node's req.headers itself when nothing was left out.
  return { target, headers: headers === fields ? { ...headers } : headers, trustedPeer };
}

/** A request's header fields by lower-case name; a name sent more than once is the list of its values. */
export type HeaderFields = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The header fields of a request, each repeated name a list (DESIGN §10 refuses or keeps apart
 * what a repeat makes ambiguous). Node builds `req.headers` for every request, and it is exactly
 * that when no name repeats; when one does, Node has joined or dropped the repeats there, so the
 * fields come from `headersDistinct` instead (one-element lists made single values).
 */
export function headerFields(req: IncomingMessage): HeaderFields {
  const headers = req.headers;
  let names = 0;
  for (const _ in headers) names++;
  // `set-cookie` is a list in `req.headers` even when sent once.
  if (names * 2 === req.rawHeaders.length && headers['set-cookie'] === undefined) return headers;
  // No prototype: a `__proto__` header is a field like any other (canonicalHeaders drops it).
  const fields: Record<string, string | string[]> = Object.create(null);
  const distinct = req.headersDistinct;
  for (const name in distinct) {
    const values = distinct[name] as string[];
    fields[name] = values.length === 1 ? (values[0] as string) : values;
  }
  return fields;
}

/** The check request for a proxied request (its body is added by the caller). */
function checkOf(
  req: IncomingMessage,
  head: Omit<InboundRequest, 'check'>,
  trusted: TrustedProxies,
): CheckRequest {
  return {
    method: req.method ?? 'GET',
    uri: head.target.raw,
    headers: head.headers,
    remote_addr: remoteAddress(req, trusted),
    scheme: schemeOf(req, head),
  };
}

/** DESIGN §10: the rightmost X-Forwarded-For hop that is not a trusted proxy (the peer when untrusted). */
export function remoteAddress(
  req: IncomingMessage,
  trusted: TrustedProxies,
  fields: HeaderFields = headerFields(req),
): string {
  return trusted.clientAddress(req.socket.remoteAddress ?? '', listOf(fields['x-forwarded-for']));
}

/** `https` on a TLS socket; else a trusted proxy's X-Forwarded-Proto (http or https); else `http`. */
export function schemeOf(
  req: IncomingMessage,
  head: Pick<InboundRequest, 'headers' | 'trustedPeer'>,
): string {
  if ('encrypted' in req.socket && req.socket.encrypted) return 'https';
  const proto = head.trustedPeer
    ? single(head.headers['x-forwarded-proto'])?.trim().toLowerCase()
    : undefined;
  return proto === 'https' ? 'https' : 'http';
}

/** Puts what policies may see of the body into the check request. */
export function withBody(check: CheckRequest, view: BodyView | undefined): void {
  if (view === undefined) {
    // DESIGN §10: a write's check says what became of its body; `null` is "read, and empty".
    if (BODY_METHODS.has(check.method.toUpperCase())) check.body = null;
    return;
  }
  if ('json' in view) check.body = view.json;
  // DESIGN §10: a POST's form fields are search parameters; the worker shows them in `params`.
  else if ('form' in view) check.body_form = view.form;
  else check.body_unavailable = view.unavailable;
}

/**
 * Reads a request's whole body as policies may see it (for entry points that get the body as
 * their own request's, like Envoy's HTTP ext_authz): `undefined` when there is none.
 */
export async function readBodyView(
  req: IncomingMessage,
  maxBytes: number,
): Promise<BodyView | RequestRefusal | undefined> {
  const coding = transferCoding(req);
  if (coding !== undefined) return coding;
  const body = await readBody(req, maxBytes);
  if (body === undefined) return tooLarge(maxBytes);
  const h = req.headersDistinct;
  return readRequestBody(
    body,
    h['content-type']?.[0],
    h['content-encoding']?.join(', '),
    req.method ?? 'GET',
  );
}

const NO_BODY = Buffer.alloc(0);

/** The whole body, or `undefined` once it grows past `max` bytes (the rest is not read). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  // RFC 9112 §6.3: without Content-Length or Transfer-Encoding a request has no body (Node's
  // parser frames it so, and drains the unread stream once answered): no async iterator per GET.
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined)
    return NO_BODY;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return undefined;
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}

/**
 * A refusal for a transfer coding other than `chunked` (`Transfer-Encoding: gzip, chunked`):
 * Node's parser undoes only the chunking and hands over the still-coded bytes, which would be
 * checked and forwarded as if they were the body (RFC 9112 §6.1: not understood, not guessed).
 */
function transferCoding(req: IncomingMessage): RequestRefusal | undefined {
  const coding = req.headers['transfer-encoding'];
  if (coding === undefined || coding.trim().toLowerCase() === 'chunked') return undefined;
  return refuse(
    'body_transfer_coding',
    `the request body has the transfer coding "${coding.slice(0, 64)}"; only chunked is read (send a compressed body with Content-Encoding)`,
  );
}

function tooLarge(max: number): RequestRefusal {
  return refuse(
    'body_too_large',
    `the request body is larger than ${max} bytes (GATEWAY_MAX_CHECK_BODY_BYTES); the gateway forwards only bodies it has read whole`,
    413,
  );
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function listOf(value: string | string[] | undefined): readonly string[] | undefined {
  return typeof value === 'string' ? [value] : value;
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
