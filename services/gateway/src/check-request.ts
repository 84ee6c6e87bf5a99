import type { IncomingMessage } from 'node:http';
import type { CheckRequest } from '@authz/protocol';
import { IDENTITY_HEADERS } from './responses.js';

/** Headers that describe the hop, not the original request; never forwarded to a check. */
export const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);
const STRIPPED = new Set<string>([...HOP_HEADERS, ...IDENTITY_HEADERS]);

/** The client's headers, lower-cased (Node does that), without hop-by-hop and identity headers. */
export function requestHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value !== undefined && !STRIPPED.has(name)) headers[name] = value;
  }
  return headers;
}

/** A check for a request the gateway proxies itself. */
export function proxiedCheck(req: IncomingMessage, body: unknown): CheckRequest {
  const check: CheckRequest = {
    method: req.method ?? 'GET',
    uri: req.url ?? '/',
    headers: requestHeaders(req),
    remote_addr: req.socket.remoteAddress ?? '',
    scheme: 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http',
  };
  if (body !== undefined) check.body = body;
  return check;
}

/**
 * A check for nginx `auth_request` / Traefik ForwardAuth: the original method and URI come from
 * `X-Original-Method` / `X-Original-URI` (nginx) or `X-Forwarded-Method` / `X-Forwarded-Uri`
 * (Traefik). Returns a reason string when the proxy did not say what the original request was.
 */
export function forwardedCheck(
  req: IncomingMessage,
  original?: { method: string; uri: string },
): CheckRequest | string {
  const h = req.headers;
  // Envoy's HTTP ext_authz sends the original method as its own and the path after its prefix.
  const method = original?.method ?? first(h['x-original-method']) ?? first(h['x-forwarded-method']);
  const uri = original?.uri ?? first(h['x-original-uri']) ?? first(h['x-forwarded-uri']);
  if (!uri) {
    return 'forward-auth request lacks X-Original-URI (nginx) or X-Forwarded-Uri (Traefik); configure the proxy to send the original URI';
  }
  const forwardedFor = first(h['x-forwarded-for']);
  const remote = forwardedFor
    ? forwardedFor.split(',')[0]!.trim()
    : (first(h['x-real-ip']) ?? req.socket.remoteAddress ?? '');
  return {
    method: method ?? 'GET',
    uri,
    headers: requestHeaders(req),
    remote_addr: remote,
    scheme: first(h['x-forwarded-proto']) ?? 'http',
  };
}

function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined || v === '' ? undefined : v;
}
