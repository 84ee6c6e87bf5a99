import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { IDENTITY_HEADERS } from './responses.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

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
   * Proxies `req` (whose body is `bufferedBody` when the gateway already read it) with the
   * identity headers added. Resolves when the response is done; `onError` answers failures.
   * `onResponse`, when given, answers the client instead of streaming the upstream's response
   * (the SMART response check, `response-check.ts`); the upstream is then asked for an
   * uncompressed body.
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Record<string, string>,
    bufferedBody: Buffer | undefined,
    onError: (status: number, message: string) => void,
    onResponse?: (upstream: IncomingMessage, headers: Record<string, string | string[]>) => void,
  ): void {
    const headers: Record<string, string | string[]> = {};
    for (const name in req.headers) {
      const value = req.headers[name];
      // Client-sent identity headers must never reach the upstream: only the gateway sets them.
      if (
        value === undefined ||
        HOP_BY_HOP.has(name) ||
        (IDENTITY_HEADERS as readonly string[]).includes(name)
      )
        continue;
      headers[name] = value;
    }
    Object.assign(headers, identity);
    headers['x-forwarded-for'] = [req.headers['x-forwarded-for'], req.socket.remoteAddress]
      .filter(Boolean)
      .join(', ');
    headers['x-forwarded-proto'] ??= 'http';
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    if (bufferedBody) headers['content-length'] = String(bufferedBody.length);
    if (onResponse) headers['accept-encoding'] = 'identity';

    const path = joinPath(this.upstream.pathname, req.url ?? '/');
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
          if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
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
    if (bufferedBody) upstreamReq.end(bufferedBody);
    else req.pipe(upstreamReq);
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
