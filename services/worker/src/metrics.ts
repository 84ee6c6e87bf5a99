import {
  Counter,
  createRegistry,
  Gauge,
  Histogram,
  HotCounter,
  HotHistogram,
  LATENCY_BUCKETS,
  memoByKey,
  type Registry,
} from '@authz/runtime';
import type { VerifierMetrics } from '@authz/verifier';
import type { WatchMetrics } from './config-watch.js';

/** The worker's Prometheus metrics. */
export interface WorkerMetrics {
  registry: Registry;
  /**
   * Counts a decision and observes its latency (seconds); a denial with the verifier's stable
   * code (`reply.error_code`) also counts in `authz_denials_by_code_total{code}`.
   */
  decided(status: number, seconds: number, errorCode?: string): void;
  /** Reports the in-flight count when Prometheus scrapes, instead of touching a gauge per request. */
  trackInflight(read: () => number): void;
  rejectedSaturated: Counter;
  natsStatus: Counter<'type'>;
  verifier: VerifierMetrics;
  watch: WatchMetrics;
}

/** Creates the registry and every worker metric. */
export function createWorkerMetrics(): WorkerMetrics {
  const registry = createRegistry('authz-worker');
  const r = { registers: [registry] };
  // Touched on every decision: plain numbers, folded into Prometheus output at scrape.
  const decisions = new HotCounter('authz_decisions_total', 'Decisions by status', ['status'], registry);
  const latency = new HotHistogram(
    'authz_decision_duration_seconds',
    'Worker-side decision latency',
    ['status'],
    LATENCY_BUCKETS,
    registry,
  );
  const denials = new HotCounter(
    'authz_denials_by_code_total',
    'Denials by the stable code of their cause (the verifier’s error codes)',
    ['code'],
    registry,
  );
  const byCode = memoByKey((code) => denials.labels(code));
  let readInflight = () => 0;
  new Gauge({
    name: 'authz_inflight_checks',
    help: 'Checks being decided',
    collect() {
      this.set(readInflight());
    },
    ...r,
  });
  const byStatus = memoByKey((status) => ({
    count: decisions.labels(status),
    latency: latency.labels(status),
  }));
  const rejectedSaturated = new Counter({
    name: 'authz_checks_shed_total',
    help: 'Checks answered 503 because the worker was saturated',
    ...r,
  });
  const natsStatus = new Counter({
    name: 'authz_nats_status_events_total',
    help: 'NATS connection status events (reconnect, disconnect, …)',
    labelNames: ['type'] as const,
    ...r,
  });
  const cache = new HotCounter(
    'authz_cache_lookups_total',
    'Cache lookups by tier, kind and result',
    ['tier', 'kind', 'result'],
    registry,
  );
  const cacheBy = memoByKey((key) => {
    const [tier, kind, result] = key.split(' ');
    return cache.labels(tier!, kind!, result!);
  });
  const jwksFetches = new Counter({
    name: 'authz_jwks_fetches_total',
    help: 'JWKS fetches by result',
    labelNames: ['result'] as const,
    ...r,
  });
  const staleKeys = new Counter({
    name: 'authz_jwks_stale_served_total',
    help: 'Verifications served from a stale key set because the key source was down',
    ...r,
  });
  const introspections = new Counter({
    name: 'authz_introspection_calls_total',
    help: 'RFC 7662 introspection calls by result',
    labelNames: ['result'] as const,
    ...r,
  });
  const revision = new Gauge({
    name: 'authz_config_revision',
    help: 'KV revision of the configuration in use',
    ...r,
  });
  const watchLag = new Histogram({
    name: 'authz_config_watch_lag_seconds',
    help: 'Time from KV write to applied on this worker',
    buckets: LATENCY_BUCKETS,
    ...r,
  });
  const watchRestarts = new Counter({
    name: 'authz_config_watch_restarts_total',
    help: 'KV watch restarts',
    labelNames: ['type'] as const,
    ...r,
  });
  return {
    registry,
    decided: (status, seconds, errorCode) => {
      const child = byStatus(status);
      child.count.value++;
      child.latency.observe(seconds);
      if (errorCode !== undefined) byCode(errorCode).value++;
    },
    trackInflight: (read) => {
      readInflight = read;
    },
    rejectedSaturated,
    natsStatus,
    verifier: {
      cacheLookup: (tier, kind, hit) => {
        cacheBy(`${tier} ${kind} ${hit ? 'hit' : 'miss'}`).value++;
      },
      jwksFetch: (ok) => jwksFetches.inc({ result: ok ? 'ok' : 'error' }),
      staleKeysServed: () => staleKeys.inc(),
      introspectionCall: (ok) => introspections.inc({ result: ok ? 'ok' : 'error' }),
    },
    watch: {
      applied: (_type, lagMs, rev) => {
        revision.set(rev);
        watchLag.observe(Math.max(0, lagMs) / 1000);
      },
      restarted: (type) => watchRestarts.inc({ type }),
    },
  };
}
