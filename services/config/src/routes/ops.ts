import { opsReply } from '@authz/runtime';
import type { ConfigDeps } from '../deps.js';
import type { Route } from '../http/router.js';

/**
 * `/healthz`, `/readyz`, `/metrics` (the one implementation in @authz/runtime): public, so probes
 * and scrapers need no admin password. Ready while NATS and the KV bucket are usable.
 */
export function opsRoutes(deps: ConfigDeps): Route[] {
  const probe = {
    readiness: () => {
      const { nats, kv } = deps.health();
      return { ready: nats && kv && !deps.nc.isClosed() && !deps.nc.isDraining(), details: { nats, kv } };
    },
    registry: deps.metrics.registry,
  };
  return (['/healthz', '/readyz', '/metrics'] as const).map((path) => ({
    method: 'GET',
    path,
    public: true,
    async handle() {
      const reply = await opsReply(path, probe);
      if (!reply) throw new Error(`${path} is not an ops path`);
      return { status: reply.status, text: { contentType: reply.contentType, value: reply.body } };
    },
  }));
}
