import { randomFillSync, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AuthzClient } from '@authz/client';
import { type CheckReply, type CheckRequest, isRefusal, type RequestRefusal } from '@authz/protocol';
import { acceptRequestId, opsReply } from '@authz/runtime';
import { type AssertionSigner, allowedHeaders } from './assertion.js';
import { headersToRemove } from './envoy/check-response.js';
import { ENVOY_HTTP_PREFIX, envoyHttpCheck, HEADERS_TO_REMOVE } from './envoy/http-check.js';
import { forwardedCheck } from './forward-auth.js';
import { readBodyView, readProxiedRequest, withBody } from './inbound.js';
import type { GatewayMetrics } from './metrics.js';
import { requestHtu } from './origin.js';
import type { OverloadGuard } from './overload.js';
import type { UpstreamProxy } from './proxy.js';
import { checkedResponder } from './response-check.js';
import { sendDenial, sendOutcome } from './responses.js';
import { addSenderFacts, type SenderOptions } from './sender.js';
import type { TrustedProxies } from './trusted-proxies.js';

/** What the gateway's HTTP handler needs. */
export interface GatewayDeps {
  client: AuthzClient;
  metrics: GatewayMetrics;
  /** unset → allowed requests are answered with the decision JSON */
  proxy?: UpstreamProxy;
  /** GATEWAY_MAX_CHECK_BODY_BYTES: larger bodies are refused (413), never streamed unread */
  maxCheckBodyBytes: number;
  /** GATEWAY_TRUSTED_PROXIES */
  trustedProxies: TrustedProxies;
  /** Largest upstream response checked for SMART scopes (`GATEWAY_MAX_CHECKED_RESPONSE_BYTES`). */
  maxCheckedResponseBytes: number;
  ready: () => boolean;
  /** signs `X-Authz-Assertion` for allowed requests (GATEWAY_ASSERTION_KEY_FILE) */
  assertion?: AssertionSigner;
  /** who the client is beyond its token: origin addressed, client certificate (DESIGN §13) */
  sender: SenderOptions;
  /** sheds requests while the gateway's own event loop is behind (GATEWAY_SHED_LAG_MS) */
  overload?: OverloadGuard;
}

/** The reserved prefix: nothing under it is ever proxied. */
export const RESERVED_PREFIX = '/_authz/';

/** Creates the gateway HTTP server (not listening yet). */
export function createGatewayServer(deps: GatewayDeps): Server {
  const server = createServer((req, res) => {
    if (deps.overload && deps.overload.admitted < 1 && shed(req, res, deps, deps.overload)) return;
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

/**
 * Answers a request 503 unread and unchecked when the overload guard's admitted share leaves it
 * out; false for the ops endpoints, which are always answered (a probe must see the gateway alive
 * and say why), and for the requests the share lets in.
 */
function shed(
  req: IncomingMessage,
  res: ServerResponse,
  deps: GatewayDeps,
  overload: OverloadGuard,
): boolean {
  const url = req.url ?? '/';
  const route = !url.startsWith(RESERVED_PREFIX)
    ? 'proxy'
    : url.startsWith('/_authz/forward')
      ? 'forward'
      : url.startsWith(`${ENVOY_HTTP_PREFIX}/`)
        ? 'envoy'
        : undefined;
  if (route === undefined || !overload.shed()) return false;
  deps.metrics.shed(route);
  deps.metrics.answered(route, 503);
  // A body left unread cannot be skipped safely on a kept-alive connection.
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)
    res.setHeader('connection', 'close');
  res.setHeader('retry-after', '1');
  sendOutcome(
    res,
    503,
    'transient',
    `the gateway is overloaded (${overload.describe()}); the request was not checked or forwarded; retry shortly`,
    requestIdOf(req),
  );
  return true;
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: GatewayDeps): Promise<void> {
  const url = req.url ?? '/';
  const requestId = requestIdOf(req);
  if (url.startsWith(RESERVED_PREFIX)) return reserved({ req, res, deps, url, requestId });

  const inbound = await readProxiedRequest(req, {
    trustedProxies: deps.trustedProxies,
    maxBodyBytes: deps.maxCheckBodyBytes,
  });
  if (isRefusal(inbound)) {
    deps.metrics.answered('proxy', inbound.status);
    if (bodyLeftUnread(inbound)) res.setHeader('connection', 'close');
    return sendOutcome(res, inbound.status, 'invalid', inbound.reason, requestId);
  }
  const senderProblem = addSenderFacts(inbound.check, req, deps.sender);
  if (senderProblem !== undefined) {
    deps.metrics.answered('proxy', 400);
    return sendOutcome(res, 400, 'invalid', senderProblem, requestId);
  }
  // DESIGN §13: only a gateway that proxies can check a response before the client sees it.
  if (deps.proxy) inbound.check.can_check_response = true;
  const reply = await check({ req, res, deps, url, requestId }, inbound.check, inbound.bodyJson);
  const checkRequest = inbound.check;
  deps.metrics.answered('proxy', reply.status);
  if (!reply.allow) return sendDenial(res, reply, requestId);
  const identity = await allowedHeaders(reply, deps.assertion, {
    method: checkRequest.method,
    htu: requestHtu(checkRequest.origin, checkRequest.uri),
  });
  if (!deps.proxy) {
    res
      .writeHead(200, { 'content-type': 'application/json', 'x-request-id': requestId, ...identity })
      .end(JSON.stringify(reply));
    return;
  }
  deps.proxy.forward(
    req,
    inbound,
    res,
    { ...identity, 'x-request-id': requestId },
    (status, message) => sendOutcome(res, status, 'transient', message, requestId),
    reply.response_check &&
      checkedResponder(res, reply.response_check, deps.maxCheckedResponseBytes, requestId),
  );
}

/** One request to the gateway on its way through: what every handler below needs. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly deps: GatewayDeps;
  readonly url: string;
  readonly requestId: string;
}

async function reserved(exchange: Exchange): Promise<void> {
  const { req, res, deps, url, requestId } = exchange;
  const path = url.split('?')[0]!;
  if (path.startsWith(`${ENVOY_HTTP_PREFIX}/`)) return envoyHttp(exchange);
  switch (path) {
    case '/_authz/forward': {
      const checkRequest = forwardedCheck(req, deps.trustedProxies);
      req.resume();
      if (isRefusal(checkRequest)) {
        deps.metrics.answered('forward', checkRequest.status);
        return sendOutcome(res, checkRequest.status, 'invalid', checkRequest.reason, requestId);
      }
      const senderProblem = addSenderFacts(checkRequest, req, deps.sender);
      if (senderProblem !== undefined) {
        deps.metrics.answered('forward', 400);
        return sendOutcome(res, 400, 'invalid', senderProblem, requestId);
      }
      return answerForwardAuth(exchange, 'forward', checkRequest, []);
    }
    case '/_authz/jwks.json':
      if (!deps.assertion)
        return sendOutcome(
          res,
          404,
          'not-found',
          'this gateway signs no assertions (GATEWAY_ASSERTION_KEY_FILE is not set)',
          requestId,
        );
      res
        .writeHead(200, {
          'content-type': 'application/jwk-set+json',
          'cache-control': 'public, max-age=300',
        })
        .end(JSON.stringify(deps.assertion.jwks));
      return;
    case '/_authz/healthz':
    case '/_authz/readyz':
    case '/_authz/metrics': {
      // The one ops implementation (@authz/runtime), mounted under /_authz.
      const ops = await opsReply(path.slice('/_authz'.length), {
        readiness: () => ({ ready: deps.ready() }),
        registry: deps.metrics.registry,
      });
      if (ops) res.writeHead(ops.status, { 'content-type': ops.contentType }).end(ops.body);
      return;
    }
    default:
      sendOutcome(res, 404, 'not-found', `${path} is not a gateway endpoint`, requestId);
  }
}

/**
 * Envoy's HTTP ext_authz (`path_prefix: /_authz/envoy`): answers like `/_authz/forward`, reading
 * a JSON body Envoy sends (`with_request_body`) when Envoy marks it whole, and tells Envoy which
 * client-sent identity-like headers to remove.
 */
async function envoyHttp(exchange: Exchange): Promise<void> {
  const { req, res, deps, url, requestId } = exchange;
  const mapped = envoyHttpCheck(req, url, deps.trustedProxies);
  if (isRefusal(mapped)) {
    req.resume();
    deps.metrics.answered('envoy', mapped.status);
    return sendOutcome(res, mapped.status, 'invalid', mapped.reason, requestId);
  }
  const problem = addSenderFacts(mapped.check, req, deps.sender);
  if (problem !== undefined) {
    req.resume();
    deps.metrics.answered('envoy', 400);
    return sendOutcome(res, 400, 'invalid', problem, requestId);
  }
  if (mapped.bodyProblem !== undefined) {
    // DESIGN §10: a body that may be cut is never read as the whole body.
    req.resume();
    mapped.check.body_unavailable = mapped.bodyProblem;
    return answerForwardAuth(exchange, 'envoy', mapped.check, mapped.identityLike);
  }
  const body = await readBodyView(req, deps.maxCheckBodyBytes);
  if (isRefusal(body)) {
    deps.metrics.answered('envoy', body.status);
    if (bodyLeftUnread(body)) res.setHeader('connection', 'close');
    return sendOutcome(res, body.status, 'invalid', body.reason, requestId);
  }
  if (body !== undefined) {
    delete mapped.check.body_unavailable;
    withBody(mapped.check, body);
  }
  return answerForwardAuth(exchange, 'envoy', mapped.check, mapped.identityLike);
}

/** A forward-auth answer: the denial, or 200 with the identity headers (and the assertion). */
async function answerForwardAuth(
  exchange: Exchange,
  route: 'forward' | 'envoy',
  checkRequest: CheckRequest,
  identityLike: readonly string[],
): Promise<void> {
  const { res, deps, requestId } = exchange;
  const reply = await check(exchange, checkRequest);
  deps.metrics.answered(route, reply.status);
  if (!reply.allow) return sendDenial(res, reply, requestId);
  // Fail closed: an allow conditional on the response (DESIGN §13) cannot be honoured here.
  if (reply.response_check) {
    const why = 'the decision requires a response check, which forward-auth cannot make';
    return sendOutcome(res, 403, 'forbidden', why, requestId);
  }
  const identity = await allowedHeaders(reply, deps.assertion, {
    method: checkRequest.method.toUpperCase(),
    htu: requestHtu(checkRequest.origin, checkRequest.uri),
  });
  if (route === 'envoy') identity[HEADERS_TO_REMOVE] = headersToRemove(identity, identityLike).join(', ');
  res.writeHead(200, { 'x-request-id': requestId, 'content-length': '0', ...identity }).end();
}

async function check(
  { req, deps, requestId }: Exchange,
  request: CheckRequest,
  bodyJson?: Uint8Array,
): Promise<CheckReply> {
  const started = performance.now();
  const traceparent = single(req.headers.traceparent) ?? newTraceparent();
  const reply = await deps.client.check(request, { requestId, traceparent, bodyJson });
  deps.metrics.checked(reply.status, (performance.now() - started) / 1000);
  return reply;
}

/** Random bytes for 512 traceparents (16-byte trace id + 8-byte parent id each), refilled when used up. */
const traceEntropy = Buffer.allocUnsafe(24 * 512);
let traceAt = traceEntropy.length;

/**
 * A fresh W3C traceparent from pooled random bytes: one hex encoding per request, where two
 * randomUUID calls and their reshaping cost several times as much (bench/README.md).
 */
export function newTraceparent(): string {
  if (traceAt === traceEntropy.length) {
    randomFillSync(traceEntropy);
    traceAt = 0;
  }
  const hex = traceEntropy.toString('hex', traceAt, traceAt + 24);
  traceAt += 24;
  return `00-${hex.slice(0, 32)}-${hex.slice(32)}-01`;
}

/** An unread body (too large, or of a transfer coding not read) cannot be skipped safely on a kept-alive connection. */
function bodyLeftUnread(refusal: RequestRefusal): boolean {
  return refusal.status === 413 || refusal.refused === 'body_transfer_coding';
}

/** A client-supplied request id when it follows the one rule (@authz/runtime), else a fresh one. */
function requestIdOf(req: IncomingMessage): string {
  return acceptRequestId(req.headers['x-request-id']) ?? randomUUID();
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
