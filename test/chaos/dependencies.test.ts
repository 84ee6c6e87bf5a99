import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChaosCluster, expectSafe, startChaosCluster } from './cluster.js';
import { sleep } from './load.js';

// Steady load through two gateways while a dependency of the decision path goes away: the
// config service, Redis, the IdP's JWKS endpoint together with the introspection endpoint.
// None of them may cost a decision: configuration lives in the workers' memory, Redis is a
// cache, verified keys and introspection results are cached in-process.

describe('chaos: dependency outages under load (3 workers, 2 gateways)', () => {
  let cluster: ChaosCluster;

  beforeAll(async () => {
    cluster = await startChaosCluster({ workers: 3 });
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('config service stopped mid-load: decisions unaffected (zero 503s)', async () => {
    const result = await cluster.underLoad('stop config service', {
      beforeMs: 2000,
      fault: async () => `exit=${await cluster.config.stop('SIGTERM')}`,
      afterMs: 5000,
    });
    expectSafe(result);
    expect(result.stats.unavailable, result.stats.examples.join('\n')).toBe(0);

    await cluster.restartConfig();
    const res = await cluster.admin('GET', '/AccessPolicy');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { total: number }).total).toBe(2);
  });

  it('Redis stopped for 10 s mid-load: decisions go on from in-process caches (zero 503s)', async () => {
    const result = await cluster.underLoad('stop Redis 10s', {
      beforeMs: 2000,
      fault: async () => {
        await cluster.redis.stop();
        await sleep(10_000);
        await cluster.redis.start();
      },
      afterMs: 12_000,
    });
    expectSafe(result);
    expect(result.stats.unavailable, result.stats.examples.join('\n')).toBe(0);
  });

  it('IdP (JWKS) and introspection endpoint stopped mid-load: cached tokens keep passing (zero 503s)', async () => {
    const jwksBefore = cluster.idp.fetches;
    const introspectionsBefore = cluster.introspection.calls();
    const result = await cluster.underLoad('stop IdP + introspection', {
      // The first seconds of load put every pooled token into the caches.
      beforeMs: 3000,
      fault: async () => {
        await Promise.all([cluster.idp.stop(), cluster.introspection.stop()]);
        return `warmup_jwks_fetches=${cluster.idp.fetches - jwksBefore} warmup_introspections=${cluster.introspection.calls() - introspectionsBefore}`;
      },
      afterMs: 6000,
    });
    await Promise.all([cluster.idp.start(), cluster.introspection.start()]);
    expectSafe(result);
    expect(result.stats.unavailable, result.stats.examples.join('\n')).toBe(0);
    expect(result.after.allowed).toBeGreaterThan(0);
  });
});
