import type { Registry } from 'prom-client';

/**
 * Metrics updated on every decision. prom-client hashes the label set on each `inc`/`observe`
 * (~0.3 µs each, measured with bench/hot-path.mjs), so these keep plain numbers per label value
 * and hand prom-client the totals only when Prometheus scrapes. They register in a prom-client
 * {@link Registry} like any other metric (the registry only calls `get()` and `reset()`).
 */

/** What prom-client's registry reads from a metric (`MetricObjectWithValues`). */
interface MetricSnapshot {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
}

abstract class HotMetric<Series> {
  protected readonly series = new Map<string, { labels: Record<string, string>; data: Series }>();

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    // The registry's declared parameter type is prom-client's own Metric; it uses get()/reset().
    registry.registerMetric(this as never);
  }

  protected abstract create(): Series;

  /** The series of one label-value combination (in `labelNames` order), created on first use. */
  protected seriesOf(values: readonly (string | number)[]): Series {
    const key = values.join('\u0000');
    let entry = this.series.get(key);
    if (entry === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = String(values[i]);
      });
      entry = { labels, data: this.create() };
      this.series.set(key, entry);
    }
    return entry.data;
  }

  reset(): void {
    this.series.clear();
  }
}

/** One counter series: `inc()` is a single addition. */
export interface HotCounterSeries {
  value: number;
}

/** A Prometheus counter with label values bound once, {@link HotCounter.labels}. */
export class HotCounter extends HotMetric<HotCounterSeries> {
  protected create(): HotCounterSeries {
    return { value: 0 };
  }

  /** The series for these label values; keep it and call `series.value++`. */
  labels(...values: (string | number)[]): HotCounterSeries {
    return this.seriesOf(values);
  }

  async get(): Promise<MetricSnapshot> {
    const values = [...this.series.values()].map(({ labels, data }) => ({ value: data.value, labels }));
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values };
  }
}

/** One histogram series: counts per bucket (not cumulative), sum and count. */
export class HotHistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    const { bounds } = this;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

/** A Prometheus histogram with label values bound once, {@link HotHistogram.labels}. */
export class HotHistogram extends HotMetric<HotHistogramSeries> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  protected create(): HotHistogramSeries {
    return new HotHistogramSeries(this.buckets);
  }

  /** The series for these label values; keep it and call `series.observe(v)`. */
  labels(...values: (string | number)[]): HotHistogramSeries {
    return this.seriesOf(values);
  }

  async get(): Promise<MetricSnapshot> {
    const values: MetricSnapshot['values'] = [];
    for (const { labels, data } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += data.counts[i]!;
        values.push({ value: cumulative, labels: { ...labels, le }, metricName: `${this.name}_bucket` });
      });
      values.push({
        value: data.count,
        labels: { ...labels, le: '+Inf' },
        metricName: `${this.name}_bucket`,
      });
      values.push({ value: data.sum, labels, metricName: `${this.name}_sum` });
      values.push({ value: data.count, labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}
