import { createServer, type Server } from 'node:http';
import { listen, opsReply, type Registry } from '@authz/runtime';

/**
 * `/healthz`, `/readyz` (`ready()`), `/metrics` on a small HTTP server of their own
 * (`WORKER_HTTP_PORT`): the one ops implementation of @authz/runtime.
 */
export async function startOpsServer(
  port: number,
  host: string,
  registry: Registry,
  ready: () => boolean,
): Promise<Server> {
  const probe = { readiness: () => ({ ready: ready() }), registry };
  const server = createServer((req, res) => {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    opsReply(path, probe).then(
      (reply) =>
        reply
          ? res.writeHead(reply.status, { 'content-type': reply.contentType }).end(reply.body)
          : res.writeHead(404).end(),
      () => res.writeHead(500).end(),
    );
  });
  await listen(server, port, host);
  return server;
}
