import type { AddressInfo } from 'node:net';
import { AuthzClient } from '@authz/client';
import { startNats, type TestServer } from '@authz/test-support';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGatewayServer } from './gateway.js';
import { createGatewayMetrics } from './metrics.js';
import { OverloadGuard } from './overload.js';
import { TrustedProxies } from './trusted-proxies.js';

/** Keeps the event loop busy for `ms`, as a saturated gateway's loop is. */
function blockLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy on purpose
  }
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('OverloadGuard', () => {
  it('trips only when the loop runs late, and lets go once it catches up', async () => {
    const guard = new OverloadGuard(50, 0, 100).start();
    try {
      // An idle loop is not overloaded (polled: a starved CI box can run one timer late).
      await expect.poll(() => guard.overloaded(), { timeout: 5000, interval: 50 }).toBe(false);
      blockLoop(700);
      await turn();
      expect(guard.overloaded()).toBe(true);
      expect(guard.lag).toBeGreaterThan(50);
      // Cut as far as the loop is behind: ≥ 700 ms late against a 50 ms bound.
      expect(guard.admitted).toBeLessThanOrEqual(0.7);
      expect(guard.shed()).toBe(true);
      await expect.poll(() => guard.overloaded(), { timeout: 2000, interval: 20 }).toBe(false);
      await expect.poll(() => guard.admitted, { timeout: 5000, interval: 20 }).toBe(1);
      expect(guard.shed()).toBe(false);
    } finally {
      guard.stop();
    }
  });

  it('trips on a loop that stays busy, whatever its lag, and lets go once it idles', async () => {
    // Lag off; one utilization window per 50 ms sample.
    const guard = new OverloadGuard(0, 80, 50, 1).start();
    try {
      await new Promise((r) => setTimeout(r, 120));
      await expect.poll(() => guard.overloaded(), { timeout: 5000, interval: 50 }).toBe(false);
      blockLoop(300);
      await turn();
      expect(guard.busy).toBeGreaterThan(80);
      expect(guard.overloaded()).toBe(true);
      expect(guard.describe()).toMatch(/\d+ % busy; admitting \d+ % of new requests/);
      expect(guard.admitted).toBeLessThanOrEqual(0.7);
      await expect.poll(() => guard.overloaded(), { timeout: 2000, interval: 20 }).toBe(false);
      await expect.poll(() => guard.admitted, { timeout: 5000, interval: 20 }).toBe(1);
    } finally {
      guard.stop();
    }
  });

  it('admits exactly its share of a run of requests, by credit rather than by chance', async () => {
    const guard = new OverloadGuard(20, 0, 100, 1).start();
    try {
      await expect.poll(() => guard.admitted, { timeout: 5000, interval: 50 }).toBe(1);
      blockLoop(500);
      await turn();
      const share = guard.admitted;
      expect(share).toBeLessThan(1);
      // Synchronous: no sample can change the share in between.
      let admitted = 0;
      for (let i = 0; i < 1000; i++) if (!guard.shed()) admitted++;
      expect(Math.abs(admitted - share * 1000)).toBeLessThanOrEqual(1);
    } finally {
      guard.stop();
    }
  });

  it('never trips with both thresholds at 0', async () => {
    const guard = new OverloadGuard(0, 0, 10).start();
    blockLoop(200);
    await turn();
    expect(guard.overloaded()).toBe(false);
    expect(guard.shed()).toBe(false);
    guard.stop();
  });
});

describe('the gateway under overload', () => {
  let nats: TestServer;
  let nc: NatsConnection;
  let url: string;
  let stop: () => Promise<void>;
  const metrics = createGatewayMetrics();
  // Samples every second: after a 3 s block the guard stays tripped for ~3 s, long enough to ask
  // it four times even on a loaded CI box.
  const guard = new OverloadGuard(100, 0, 1000);

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url, noAsyncTraces: true });
    const server = createGatewayServer({
      client: new AuthzClient(nc, { timeoutMs: 200 }),
      metrics,
      maxCheckBodyBytes: 1024,
      trustedProxies: TrustedProxies.parse(''),
      maxCheckedResponseBytes: 1024 * 1024,
      ready: () => true,
      sender: { clientCertHeader: 'x-client-cert', trustedProxies: TrustedProxies.parse('') },
      overload: guard,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    guard.start();
    stop = () => new Promise((resolve) => server.close(() => resolve()));
  });

  afterAll(async () => {
    guard.stop();
    await stop?.();
    await nc?.close();
    await nats?.dispose();
  });

  it('answers 503 unchecked with Retry-After while its loop is behind, keeps the probes, then checks again', async () => {
    blockLoop(3000);
    await turn();
    expect(guard.overloaded()).toBe(true);
    // ~1 s behind against a 100 ms bound: a tenth at most is admitted, so both requests below
    // are shed (the credit reaches 1 only after ten).
    expect(guard.admitted).toBeLessThanOrEqual(0.1);
    const proxied = await fetch(`${url}/fhir/Patient/pt-1`, { headers: { authorization: 'Bearer x' } });
    expect(proxied.status).toBe(503);
    expect(proxied.headers.get('retry-after')).toBe('1');
    const outcome = (await proxied.json()) as { issue: Array<{ code: string; diagnostics: string }> };
    expect(outcome.issue[0]?.code).toBe('transient');
    expect(outcome.issue[0]?.diagnostics).toMatch(/overloaded .* not checked or forwarded/);
    const posted = await fetch(`${url}/_authz/forward`, { method: 'POST', body: 'x' });
    expect(posted.status).toBe(503);
    expect(posted.headers.get('connection')).toBe('close');
    expect((await fetch(`${url}/_authz/healthz`)).status).toBe(200);
    const text = await (await fetch(`${url}/_authz/metrics`)).text();
    expect(text).toMatch(/authz_gateway_shed_total\{route="proxy",[^}]*\} 1$/m);
    expect(text).toMatch(/authz_gateway_shed_total\{route="forward",[^}]*\} 1$/m);

    // Caught up: the request is checked again (no worker listens here, so that check says 503
    // for its own reason, never the overload's).
    await expect.poll(() => guard.admitted, { timeout: 15_000, interval: 100 }).toBe(1);
    const checked = await fetch(`${url}/fhir/Patient/pt-1`, { headers: { authorization: 'Bearer x' } });
    expect(checked.status).toBe(503);
    expect(await checked.text()).not.toContain('overloaded');
  });
});
