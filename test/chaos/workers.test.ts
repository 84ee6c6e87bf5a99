import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChaosCluster, expectSafe, startChaosCluster } from './cluster.js';

// Steady load through two gateways while one of three workers dies (SIGKILL) or is asked to
// stop (SIGTERM). Every request has a known right answer; a numbers line per fault is printed.

describe('chaos: worker faults under load (3 workers, 2 gateways)', () => {
  let cluster: ChaosCluster;

  beforeAll(async () => {
    cluster = await startChaosCluster({ workers: 3 });
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('SIGKILL of a worker mid-load: no wrong allow, every request answered, a few 503s at most', async () => {
    const victim = cluster.workers[0]!;
    const result = await cluster.underLoad('SIGKILL worker', {
      beforeMs: 3000,
      fault: async () => {
        await victim.stop('SIGKILL');
        cluster.workers.splice(cluster.workers.indexOf(victim), 1);
      },
      afterMs: 5000,
    });
    expectSafe(result);
    // Checks lost with the worker are retried by the client on another one within its deadline.
    expect(result.stats.unavailable).toBeLessThanOrEqual(Math.ceil(result.stats.sent * 0.02));
    // From two seconds after the kill on, the two survivors decide everything.
    expect(result.after.unavailable).toBe(0);
    expect(result.after.allowed).toBeGreaterThan(0);
    await cluster.addWorker();
  });

  it('SIGTERM of a worker mid-load drains it: zero 503s, zero unanswered', async () => {
    const victim = cluster.workers[0]!;
    let code: number | null = null;
    const result = await cluster.underLoad('SIGTERM worker', {
      beforeMs: 3000,
      fault: async () => {
        code = await victim.stop('SIGTERM');
        cluster.workers.splice(cluster.workers.indexOf(victim), 1);
        return `exit=${code}`;
      },
      afterMs: 5000,
    });
    expectSafe(result);
    expect(result.stats.unavailable, result.stats.examples.join('\n')).toBe(0);
    expect(code).toBe(0);
    expect(victim.logs.some((l) => l.msg === 'stopped')).toBe(true);
    await cluster.addWorker();
  });
});
