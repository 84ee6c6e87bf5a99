import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotHistogram } from './hot-metrics.js';

/** Exposition lines with their labels sorted: label order carries no meaning. */
const normalized = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line) =>
      line.replace(/\{([^}]*)\}/, (_m, labels: string) => `{${labels.split(',').sort().join(',')}}`),
    );

describe('hot metrics', () => {
  it('expose the same text as prom-client metrics fed the same values', async () => {
    const hot = new Registry();
    const reference = new Registry();
    for (const r of [hot, reference]) r.setDefaultLabels({ service: 't' });
    const buckets = [0.001, 0.01, 0.1];
    const hotHistogram = new HotHistogram('h_seconds', 'help', ['status'], buckets, hot);
    const refHistogram = new Histogram({
      name: 'h_seconds',
      help: 'help',
      labelNames: ['status'],
      buckets,
      registers: [reference],
    });
    const ok = hotHistogram.labels(200);
    for (const v of [0.0005, 0.001, 0.05, 3]) {
      ok.observe(v);
      refHistogram.labels('200').observe(v);
    }
    expect(normalized(await hot.metrics())).toEqual(normalized(await reference.metrics()));
  });

  it('count per label combination and start again after reset', async () => {
    const registry = new Registry();
    const counter = new HotCounter('c_total', 'lookups', ['tier', 'result'], registry);
    const hit = counter.labels('memory', 'hit');
    hit.value++;
    hit.value++;
    counter.labels('redis', 'miss').value++;
    const text = await registry.metrics();
    expect(text).toContain('# TYPE c_total counter');
    expect(text).toContain('c_total{tier="memory",result="hit"} 2');
    expect(text).toContain('c_total{tier="redis",result="miss"} 1');
    expect((await registry.getMetricsAsJSON())[0]?.values).toHaveLength(2);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('c_total{');
  });
});
