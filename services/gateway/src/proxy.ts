import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { HOP_BY_HOP, type InboundRequest } from './inbound.js';

// Hop-by-hop headers go neither way; the upstream's Host is its own; an `Expect: 100-continue`
// was answered to the client by the gateway, which holds the whole body before it forwards.
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'host', 'expect']);

/** Forwards allowed requests to one upstream over kept-alive connections. */
export class UpstreamProxy {
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;

  constructor(
    private readonly upstream: URL,
    private readonly timeoutMs: number,
  ) {
    const https = upstream.protocol === 'https:';
    this.agent = https
      ? new HttpsAgent({ keepAlive: true, maxSockets: 256 })
      : new HttpAgent({ keepAlive: true, maxSockets: 256 });
    this.send = https ? httpsRequest : httpRequest;
  }

  /**
   * Proxies a checked request: exactly its target, its checked headers and its buffered body
   * (DESIGN §10: the upstream gets what was checked), with the identity headers and the
   * gateway's own forwarding headers added. Resolves when the response is done; `onError`
   * answers failures.
   * `onResponse`, when given, answers the client instead of streaming the upstream's response
   * (the SMART response check, `response-check.ts`); the upstream is then asked for an
   * uncompressed body.
   */
  forward(
    req: IncomingMessage,
    inbound: InboundRequest,
    res: ServerResponse,
    identity: Record<string, string>,
    onError: (status: number, message: string) => void,
    onResponse?: (upstream: IncomingMessage, headers: Record<string, string | string[]>) => void,
  ): void {
    const headers: Record<string, string | string[]> = {};
    for (const name in inbound.headers) {
      if (!NOT_FORWARDED.has(name)) headers[name] = inbound.headers[name] as string | string[];
    }
    Object.assign(headers, identity);
    // Untrusted peers' X-Forwarded-* were dropped when the request was read; a trusted proxy's
    // chain is extended with the peer (RFC 7239 §5.2 order: client first).
    const prior = inbound.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = [prior, req.socket.remoteAddress].flat().filter(Boolean).join(', ');
    headers['x-forwarded-proto'] = inbound.check.scheme ?? 'http';
    const host = inbound.headers.host;
    if (typeof host === 'string') headers['x-forwarded-host'] = host;
    const body = inbound.body;
    if (body !== undefined) headers['content-length'] = String(body.length);
    else if (headers['content-length'] !== undefined) headers['content-length'] = '0';
    if (onResponse) headers['accept-encoding'] = 'identity';

    const path = joinPath(this.upstream.pathname, inbound.target.raw);
    const upstreamReq = this.send(
      {
        protocol: this.upstream.protocol,
        hostname: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path,
        headers,
        agent: this.agent,
        timeout: this.timeoutMs,
      },
      (upstreamRes) => {
        const out: Record<string, string | string[]> = {};
        for (const name in upstreamRes.headers) {
          const value = upstreamRes.headers[name];
          if (value !== undefined && !NOT_FORWARDED.has(name)) out[name] = value;
        }
        if (onResponse) return onResponse(upstreamRes, out);
        res.writeHead(upstreamRes.statusCode ?? 502, out);
        upstreamRes.pipe(res);
      },
    );
    upstreamReq.on('timeout', () => upstreamReq.destroy(new UpstreamTimeoutError(this.timeoutMs)));
    upstreamReq.on('error', (err) => {
      // Branch on the error's class, never its message (STYLE "Errors are data").
      if (!res.headersSent)
        onError(
          err instanceof UpstreamTimeoutError ? 504 : 502,
          `upstream ${this.upstream.origin} failed: ${err.message}`,
        );
      else res.destroy();
    });
    upstreamReq.end(body);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The upstream did not answer within `UPSTREAM_TIMEOUT_MS`: a 504, where other failures are 502. */
export class UpstreamTimeoutError extends Error {
  readonly code = 'ERR_UPSTREAM_TIMEOUT';
  constructor(timeoutMs: number) {
    super(`upstream timed out after ${timeoutMs} ms`);
    this.name = 'UpstreamTimeoutError';
  }
}

function joinPath(base: string, url: string): string {
  if (base === '/' || base === '') return url;
  return base.replace(/\/$/, '') + url;
}
