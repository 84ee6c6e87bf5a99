import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AuthzClient } from '@authz/client';
import type { CheckReply, CheckRequest } from '@authz/protocol';
import { forwardedCheck, proxiedCheck } from './check-request.js';
import type { GatewayMetrics } from './metrics.js';
import type { UpstreamProxy } from './proxy.js';
import { identityHeaders, sendDenial, sendOutcome } from './responses.js';

/** What the gateway's HTTP handler needs. */
export interface GatewayDeps {
  client: AuthzClient;
  metrics: GatewayMetrics;
  /** unset → allowed requests are answered with the decision JSON */
  proxy?: UpstreamProxy;
  maxCheckBodyBytes: number;
  ready: () => boolean;
}

/** The reserved prefix: nothing under it is ever proxied. */
export const RESERVED_PREFIX = '/_authz/';

/** Creates the gateway HTTP server (not listening yet). */
export function createGatewayServer(deps: GatewayDeps): Server {
  const server = createServer((req, res) => {
    handle(req, res, deps).catch(() => {
      // Nothing may escape as an allow: any unexpected failure is a 503 deny.
      if (!res.headersSent)
        sendOutcome(res, 503, 'exception', 'the gateway hit an internal error; the request is denied', '-');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 120_000;
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: GatewayDeps): Promise<void> {
  const url = req.url ?? '/';
  const requestId = requestIdOf(req);
  if (url.startsWith(RESERVED_PREFIX)) return reserved(req, res, deps, url, requestId);

  const bufferedBody = await readCheckBody(req, deps.maxCheckBodyBytes);
  const reply = await check(deps, proxiedCheck(req, bufferedBody?.json), req, requestId);
  deps.metrics.answered('proxy', reply.status);
  if (!reply.allow) return sendDenial(res, reply, requestId);
  if (!deps.proxy) {
    res
      .writeHead(200, {
        'content-type': 'application/json',
        'x-request-id': requestId,
        ...identityHeaders(reply),
      })
      .end(JSON.stringify(reply));
    return;
  }
  deps.proxy.forward(
    req,
    res,
    { ...identityHeaders(reply), 'x-request-id': requestId },
    bufferedBody?.raw,
    (status, message) => sendOutcome(res, status, 'transient', message, requestId),
  );
}

async function reserved(
  req: IncomingMessage,
  res: ServerResponse,
  deps: GatewayDeps,
  url: string,
  requestId: string,
): Promise<void> {
  const path = url.split('?')[0];
  switch (path) {
    case '/_authz/forward': {
      const checkRequest = forwardedCheck(req);
      req.resume();
      if (typeof checkRequest === 'string') {
        deps.metrics.answered('forward', 400);
        return sendOutcome(res, 400, 'invalid', checkRequest, requestId);
      }
      const reply = await check(deps, checkRequest, req, requestId);
      deps.metrics.answered('forward', reply.status);
      if (!reply.allow) return sendDenial(res, reply, requestId);
      res
        .writeHead(200, { 'x-request-id': requestId, 'content-length': '0', ...identityHeaders(reply) })
        .end();
      return;
    }
    case '/_authz/healthz':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    case '/_authz/readyz': {
      const ok = deps.ready();
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ok ? 'ready' : 'not ready' }));
      return;
    }
    case '/_authz/metrics':
      res
        .writeHead(200, { 'content-type': deps.metrics.registry.contentType })
        .end(await deps.metrics.registry.metrics());
      return;
    default:
      sendOutcome(res, 404, 'not-found', `${path} is not a gateway endpoint`, requestId);
  }
}

async function check(
  deps: GatewayDeps,
  request: CheckRequest,
  req: IncomingMessage,
  requestId: string,
): Promise<CheckReply> {
  const started = performance.now();
  const traceparent = single(req.headers.traceparent) ?? newTraceparent();
  const reply = await deps.client.check(request, { requestId, traceparent });
  deps.metrics.checked(reply.status, (performance.now() - started) / 1000);
  return reply;
}

/**
 * A fresh W3C traceparent. randomUUID draws from Node's pooled entropy, far cheaper per call than
 * randomBytes; its version/variant nibbles cost 6 of 128 random bits, irrelevant for tracing.
 */
function newTraceparent(): string {
  const a = randomUUID().replaceAll('-', '');
  const b = randomUUID();
  return `00-${a}-${b.slice(0, 8)}${b.slice(9, 13)}${b.slice(14, 18)}-01`;
}

/** A client-supplied request id when it is short and printable, else a fresh one. */
function requestIdOf(req: IncomingMessage): string {
  const given = single(req.headers['x-request-id']);
  return given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Reads a JSON body small enough to show policies (`body` in the context); other bodies stay
 * unread and are streamed to the upstream untouched.
 */
async function readCheckBody(
  req: IncomingMessage,
  maxBytes: number,
): Promise<{ raw: Buffer; json: unknown } | undefined> {
  const type = req.headers['content-type'] ?? '';
  const length = Number(req.headers['content-length'] ?? -1);
  if (maxBytes === 0 || !/\bjson\b/i.test(type) || !(length > 0 && length <= maxBytes)) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new Error('body larger than its content-length');
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  try {
    return { raw, json: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { raw, json: undefined };
  }
}
