import {
  Counter,
  createRegistry,
  Histogram,
  LATENCY_BUCKETS,
  memoByKey,
  type Registry,
} from '@authz/runtime';

/** The gateway's Prometheus metrics. */
export interface GatewayMetrics {
  registry: Registry;
  /** Counts one answered request by route and status. */
  answered(route: 'forward' | 'proxy' | 'envoy' | 'ext_authz_grpc', status: number): void;
  /** Observes one check round trip (seconds) by status. */
  checked(status: number, seconds: number): void;
  natsStatus: Counter<'type'>;
  /** Counts one request shed because the gateway's event loop was behind (overload.ts). */
  shed(route: 'forward' | 'proxy' | 'envoy' | 'ext_authz_grpc'): void;
}

export function createGatewayMetrics(): GatewayMetrics {
  const registry = createRegistry('authz-gateway');
  const r = { registers: [registry] };
  const requests = new Counter({
    name: 'authz_gateway_requests_total',
    help: 'Requests by route (forward, proxy, envoy, ext_authz_grpc) and status',
    labelNames: ['route', 'status'] as const,
    ...r,
  });
  const checkLatency = new Histogram({
    name: 'authz_gateway_check_duration_seconds',
    help: 'Round trip of a check to the worker cluster',
    labelNames: ['status'] as const,
    buckets: LATENCY_BUCKETS,
    ...r,
  });
  const requestsBy = memoByKey((key) => {
    const [route, status] = key.split(' ');
    return requests.labels(route!, status!);
  });
  const latencyBy = memoByKey((status) => checkLatency.labels(status));
  const shed = new Counter({
    name: 'authz_gateway_shed_total',
    help: 'Requests answered 503 unchecked because the gateway was overloaded (GATEWAY_SHED_LAG_MS)',
    labelNames: ['route'] as const,
    ...r,
  });
  const shedBy = memoByKey((route) => shed.labels(route));
  return {
    registry,
    answered: (route, status) => requestsBy(`${route} ${status}`).inc(),
    checked: (status, seconds) => latencyBy(status).observe(seconds),
    shed: (route) => shedBy(route).inc(),
    natsStatus: new Counter({
      name: 'authz_nats_status_events_total',
      help: 'NATS connection status events',
      labelNames: ['type'] as const,
      ...r,
    }),
  };
}
