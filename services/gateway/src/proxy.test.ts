import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestTarget } from '@authz/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundRequest } from './inbound.js';
import { UpstreamProxy } from './proxy.js';

const servers: Server[] = [];
const proxies: UpstreamProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) p.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A gateway stand-in: every request is forwarded as checked, with a fixed identity. */
async function gatewayTo(upstream: string, timeoutMs = 5000): Promise<string> {
  const proxy = new UpstreamProxy(new URL(upstream), timeoutMs);
  proxies.push(proxy);
  return listen(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const inbound: InboundRequest = {
      check: { method: req.method ?? 'GET', uri: req.url ?? '/', scheme: 'http' },
      target: { raw: req.url ?? '/' } as RequestTarget,
      headers: { 'content-type': 'application/json', 'x-client': 'c' },
      trustedPeer: false,
    };
    if (chunks.length > 0) inbound.body = Buffer.concat(chunks);
    proxy.forward(req, inbound, res, { 'x-authz-user': 'u1' }, (status, message) => {
      res.writeHead(status, { 'content-type': 'text/plain' }).end(message);
    });
  });
}

describe('UpstreamProxy', () => {
  it('sends the checked target, headers and body bytes, and streams the answer back', async () => {
    const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
    const upstream = await listen(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(201, { 'x-up': '1', 'set-cookie': ['a=1', 'b=2'] }).end('created');
    });
    const gateway = await gatewayTo(upstream);
    const res = await fetch(`${gateway}/fhir/Observation?a=1&a=2`, { method: 'POST', body: '{"x": 1}' });
    expect(res.status).toBe(201);
    expect(await res.text()).toBe('created');
    expect(res.headers.get('x-up')).toBe('1');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/fhir/Observation?a=1&a=2', body: '{"x": 1}' });
    expect(seen[0]?.headers).toMatchObject({ 'x-client': 'c', 'x-authz-user': 'u1', 'content-length': '8' });
  });

  it('answers 502 when the upstream is down and 504 when it does not answer in time', async () => {
    const down = await gatewayTo('http://127.0.0.1:1');
    const refused = await fetch(`${down}/x`);
    expect(refused.status).toBe(502);
    const silent = await listen(() => {});
    const slow = await gatewayTo(silent, 200);
    const timedOut = await fetch(`${slow}/x`);
    expect(timedOut.status).toBe(504);
    expect(await timedOut.text()).toContain('timed out after 200 ms');
  });

  it('survives a client that leaves while the upstream is still answering', async () => {
    let release: () => void = () => {};
    const upstream = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part');
      release = () => res.end('rest');
    });
    const gateway = await gatewayTo(upstream);
    const aborted = new AbortController();
    const res = await fetch(`${gateway}/x`, { signal: aborted.signal });
    expect(res.status).toBe(200);
    aborted.abort();
    release();
    // The gateway still answers.
    const next = await fetch(`${gateway}/y`);
    expect(next.status).toBe(200);
    release();
    await next.text();
  });
});
