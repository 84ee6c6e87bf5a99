import { collectDefaultMetrics, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Histogram buckets in seconds, fine below a millisecond where decisions live. */
export const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/** A Prometheus registry with process metrics, labelled with the service name. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Memoizes per-label-value children of a metric: `metric.labels(...)` hashes its label set on
 * every call, which shows up in profiles of the per-request path.
 *
 * @example
 * const byStatus = memoByKey((status) => decisions.labels(status));
 * byStatus(200).inc();
 */
export function memoByKey<T>(make: (key: string) => T): (key: string | number) => T {
  const children = new Map<string | number, T>();
  return (key) => {
    let child = children.get(key);
    if (child === undefined) {
      child = make(String(key));
      children.set(key, child);
    }
    return child;
  };
}
