import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureCaddy,
  ensureNginx,
  freePort,
  infraNginxConf,
  readmeCaddyfile,
  startCaddy,
  startNginx,
  type TestCluster,
} from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { runDifferential, tapChecks } from './differential-compare.js';
import { type RecordingUpstream, sendRaw, startIntegrityCluster } from './integrity-cluster.js';

// The differential test of DESIGN §10 at the forward-auth entry point, through the configurations
// users deploy: a real nginx running infra/nginx/nginx.conf (auth_request to the gateway's
// /_authz/forward, then proxy_pass) and a real Caddy running the README's Caddyfile
// (forward_auth, then reverse_proxy), each in front of the recording upstream. The generator and
// the comparison are differential.test.ts's: for every request a proxy passes on, the upstream
// must get the method, target, parameters, Authorization and identity and forwarding headers the
// worker decided on, and a body only where the check said it could not see one; every other
// request must stop at the proxy. DIFFERENTIAL_REQUESTS and DIFFERENTIAL_SEED choose the run, as
// there (half as many requests per proxy).

const COUNT = Math.ceil(Number(process.env.DIFFERENTIAL_REQUESTS ?? 1500) / 2);
const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 20261206);

interface Proxy {
  name: string;
  /** starts the proxy in `dir` on `port` in front of the gateway and the application */
  start(
    dir: string,
    ports: { proxy: number; gateway: number; app: number },
  ): Promise<{ stop(): Promise<void> }>;
  ensure(): Promise<{ binary: string } | { skip: string }>;
}

let binary = '';
const PROXIES: Proxy[] = [
  {
    name: 'nginx auth_request (infra/nginx)',
    ensure: ensureNginx,
    start: (dir, { proxy, gateway, app }) => {
      writeFileSync(join(dir, 'nginx.conf'), infraNginxConf(dir, { nginx: proxy, gateway, app }));
      return startNginx(binary, dir, proxy);
    },
  },
  {
    name: "Caddy forward_auth (the README's Caddyfile)",
    ensure: ensureCaddy,
    start: (dir, { proxy, gateway, app }) => {
      const file = join(dir, 'Caddyfile');
      writeFileSync(file, readmeCaddyfile({ caddy: proxy, gateway, app }));
      return startCaddy(binary, file, dir, proxy);
    },
  },
];

describe.each(PROXIES.map((p, i) => [p.name, p, SEED + 1 + i] as const))(
  `differential through %s: ${COUNT} seeded hostile requests`,
  (_name, proxy, seed) => {
    let cluster: TestCluster;
    let upstream: RecordingUpstream;
    let running: { stop(): Promise<void> } | undefined;
    let dir: string | undefined;
    let base: string;
    let checks: ReturnType<typeof tapChecks>;
    let skipReason: string | undefined;

    beforeAll(async () => {
      const found = await proxy.ensure();
      if ('skip' in found) {
        skipReason = found.skip;
        console.warn(`${proxy.name} differential skipped: ${skipReason}`);
        return;
      }
      binary = found.binary;
      // The proxy connects from 127.0.0.1: the gateway trusts it, as deployed.
      ({ cluster, upstream } = await startIntegrityCluster({ GATEWAY_TRUSTED_PROXIES: '127.0.0.1/32' }));
      const res = await cluster.admin('PUT', '/AccessPolicy/differential-allow-all', {
        resourceType: 'AccessPolicy',
        engine: 'allow',
      });
      expect(res.status).toBe(201);
      checks = tapChecks(cluster.nc);
      dir = mkdtempSync(join(tmpdir(), 'authz-differential-proxy-'));
      const port = await freePort();
      running = await proxy.start(dir, {
        proxy: port,
        gateway: Number(new URL(cluster.gatewayUrl).port),
        app: Number(new URL(upstream.url).port),
      });
      base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 10_000;
      while ((await sendRaw(base, { method: 'GET', path: '/fhir/Patient' })).status !== 200) {
        if (Date.now() > deadline) throw new Error(`${proxy.name} never passed a request`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }, 300_000); // the first run on a fresh machine may install the proxy
    afterAll(async () => {
      await running?.stop();
      await cluster?.stop();
      await upstream?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('every request the proxy passes on is the request that was checked; all others stop at the proxy', async (ctx: TestContext) => {
      if (skipReason) ctx.skip(skipReason);
      const run = await runDifferential({ baseUrl: base, upstream, checks, count: COUNT, seed });
      process.stdout.write(
        `differential[${proxy.name}]: ${COUNT} requests (seed ${seed}) in ${run.elapsedMs} ms, ${run.reached} reached the upstream, ${COUNT - run.reached} stopped, ${run.mismatches.length} mismatches; form bodies reaching it: ${run.tally.compared} compared field by field, ${run.tally.partial} with params partial\n`,
      );
      expect(run.mismatches).toEqual([]);
      expect(run.reached).toBeGreaterThan(COUNT / 10);
      expect(COUNT - run.reached).toBeGreaterThan(COUNT / 10);
      expect(run.tally.partial).toBeGreaterThan(0);
    }, 300_000);
  },
);
