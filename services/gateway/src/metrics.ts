import { Counter, createRegistry, Histogram, LATENCY_BUCKETS, type Registry } from '@authz/runtime';

/** The gateway's Prometheus metrics. */
export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  checkLatency: Histogram<'status'>;
  natsStatus: Counter<'type'>;
}

export function createGatewayMetrics(): GatewayMetrics {
  const registry = createRegistry('authz-gateway');
  const r = { registers: [registry] };
  return {
    registry,
    requests: new Counter({ name: 'authz_gateway_requests_total', help: 'Requests by route (forward, proxy, ops) and status', labelNames: ['route', 'status'] as const, ...r }),
    checkLatency: new Histogram({ name: 'authz_gateway_check_duration_seconds', help: 'Round trip of a check to the worker cluster', labelNames: ['status'] as const, buckets: LATENCY_BUCKETS, ...r }),
    natsStatus: new Counter({ name: 'authz_nats_status_events_total', help: 'NATS connection status events', labelNames: ['type'] as const, ...r }),
  };
}
