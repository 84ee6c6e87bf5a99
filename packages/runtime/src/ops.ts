import type { Server } from 'node:http';
import type { Registry } from './metrics.js';

/** What a service tells its probes: ready or not, and details shown in the `/readyz` body. */
export interface Readiness {
  ready: boolean;
  /** Extra fields of the `/readyz` body (`{"nats": true, "kv": true}`). */
  details?: Record<string, unknown>;
}

/** The operations endpoints of a service: its readiness and its metrics. */
export interface OpsProbe {
  readiness: () => Readiness;
  registry: Registry;
}

/** One answer of an operations endpoint. */
export interface OpsReply {
  status: number;
  contentType: string;
  body: string;
}

/**
 * The one implementation of `/healthz` (the process answers), `/readyz` (200 only when
 * `readiness()` says so, 503 otherwise) and `/metrics` (Prometheus text); `undefined` for any
 * other path. Each service mounts it where its HTTP server is.
 */
export async function opsReply(path: string, probe: OpsProbe): Promise<OpsReply | undefined> {
  switch (path) {
    case '/healthz':
      return { status: 200, contentType: 'application/json', body: '{"status":"ok"}' };
    case '/readyz': {
      const { ready, details } = probe.readiness();
      const body = JSON.stringify({ status: ready ? 'ready' : 'not ready', ...details });
      return { status: ready ? 200 : 503, contentType: 'application/json', body };
    }
    case '/metrics':
      return { status: 200, contentType: probe.registry.contentType, body: await probe.registry.metrics() };
    default:
      return undefined;
  }
}

/** Listens on `port` (0: any free one) and `host`; resolves with the port bound. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
