import type { ConfigDeps } from '../deps.js';
import type { Route } from '../http/router.js';

/** `/healthz`, `/readyz`, `/metrics`: public, so probes and scrapers need no admin password. */
export function opsRoutes(deps: ConfigDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      public: true,
      async handle() {
        return { status: 200, body: { status: 'ok' } };
      },
    },
    {
      method: 'GET',
      path: '/readyz',
      public: true,
      async handle() {
        const { nats, kv } = deps.health();
        const ready = nats && kv && !deps.nc.isClosed() && !deps.nc.isDraining();
        return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', nats, kv } };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      public: true,
      async handle() {
        const { registry } = deps.metrics;
        return { status: 200, text: { contentType: registry.contentType, value: await registry.metrics() } };
      },
    },
  ];
}
