import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '@authz/runtime';

/** The config service's Prometheus metrics. Labels are bounded: routes are patterns, not paths. */
export interface ConfigMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly latency: Histogram<'route' | 'method'>;
  readonly kvWrites: Counter<'type' | 'op'>;
  readonly validationFailures: Counter<'type'>;
  readonly revocations: Counter;
  /** 1 while the `AUTHZ_DECISIONS` stream exists and JetStream answers. */
  readonly auditAvailable: Gauge;
  readonly auditSeen: Counter;
  readonly auditLost: Counter;
}

/** Registers the config service's metrics on `registry`. */
export function createConfigMetrics(registry: Registry): ConfigMetrics {
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'authz_config_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'authz_config_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route pattern and method.',
      labelNames: ['route', 'method'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    kvWrites: new Counter({
      name: 'authz_config_kv_writes_total',
      help: 'Writes to the authz_config KV bucket, by resource type and operation (put, delete).',
      labelNames: ['type', 'op'] as const,
      registers,
    }),
    validationFailures: new Counter({
      name: 'authz_config_validation_failures_total',
      help: 'Resources refused as invalid (422), by resource type.',
      labelNames: ['type'] as const,
      registers,
    }),
    revocations: new Counter({
      name: 'authz_config_revocations_total',
      help: 'Tokens revoked through POST /$revoke.',
      registers,
    }),
    auditAvailable: new Gauge({
      name: 'authz_audit_stream_available',
      help: '1 while the AUTHZ_DECISIONS audit stream exists and JetStream answers, else 0.',
      registers,
    }),
    auditSeen: new Counter({
      name: 'authz_audit_events_seen_total',
      help: 'Decision events the workers say they published (their authz.v1.stats counts).',
      registers,
    }),
    auditLost: new Counter({
      name: 'authz_audit_events_lost_total',
      help: 'Decision events seen while the audit stream was missing or JetStream did not answer: not recorded.',
      registers,
    }),
  };
}
