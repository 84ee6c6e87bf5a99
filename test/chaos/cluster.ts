import { createServer, type Server } from 'node:http';
import {
  freePort,
  type IntrospectionServer,
  type ServiceProcess,
  startIdp,
  startIntrospectionServer,
  startNats,
  startNatsCluster,
  startRedis,
  startService,
  type TestIdp,
  type TestNatsCluster,
  type TestServer,
} from '@authz/test-support';
import { expect } from 'vitest';
import {
  formatStats,
  type LoadCase,
  type LoadStats,
  type LoadTarget,
  sleep,
  startLoad,
  summarize,
} from './load.js';
import { buildCases, chaosResources, INTROSPECTION_AUTH } from './mix.js';

/** Header the load driver sets so the upstream can tell a request that must have been denied. */
export const EXPECT_HEADER = 'x-chaos-expect';

/** Everything a chaos test runs against: real NATS (1 or 3 nodes), Redis, IdP, services. */
export interface ChaosCluster {
  /** single-node NATS, or undefined when {@link ChaosCluster.natsCluster} is set */
  nats?: TestServer;
  natsCluster?: TestNatsCluster;
  redis: TestServer;
  idp: TestIdp;
  introspection: IntrospectionServer;
  config: ServiceProcess;
  workers: ServiceProcess[];
  /** [proxying gateway, forward-auth gateway] */
  gateways: ServiceProcess[];
  targets: LoadTarget[];
  cases: LoadCase[];
  /** requests that reached the upstream although the load driver expected a denial */
  upstreamLeaks(): number;
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  /** Starts the config service again on the same port (after a test stopped it). */
  restartConfig(): Promise<void>;
  /** Starts one more worker. */
  addWorker(): Promise<ServiceProcess>;
  /**
   * Runs steady load for `beforeMs`, applies `fault` (which may return a note for the summary),
   * runs `afterMs` more, prints the numbers line and returns the counts: `stats` over the whole
   * run, `after` over requests sent from 2 s after the fault on.
   */
  underLoad(label: string, plan: FaultPlan): Promise<FaultResult>;
  /** Resolves once every case gets its expected answer through every target. */
  waitUntilSettled(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** When and what to break during a load run. */
export interface FaultPlan {
  beforeMs: number;
  /** may resolve to a note (a string) for the numbers line */
  fault: () => Promise<unknown>;
  afterMs: number;
}

/** Counts of one fault's load run. */
export interface FaultResult {
  stats: LoadStats;
  after: LoadStats;
  /** requests the upstream received although they had to be denied */
  leaks: number;
}

/** Load shape of every fault: ~150 requests/s through both gateways, 3 s client deadline. */
export const LOAD = { rps: 150, concurrency: 12, deadlineMs: 3000, expectHeader: EXPECT_HEADER };

/** The invariants of every fault: no wrong allow, nothing unanswered, no denial with a wrong status. */
export function expectSafe({ stats, leaks }: FaultResult): void {
  const examples = stats.examples.join('\n');
  expect(stats.wrongAllow, examples).toBe(0);
  expect(leaks).toBe(0);
  expect(stats.unanswered, examples).toBe(0);
  expect(stats.wrongStatus, examples).toBe(0);
  expect(stats.allowed, 'allowed requests during the run').toBeGreaterThan(stats.sent / 5);
}

/**
 * Starts a cluster for chaos tests: NATS (`natsNodes` 1 or 3; with 3 the KV bucket has 3
 * replicas and every service gets all three URLs), Redis, a test IdP (jwks_uri), an RFC 7662
 * endpoint, the config service, `workers` workers and two gateways — one proxying to a
 * recording upstream, one answering forward-auth — then configures three introspectors and
 * GET-only policies and builds the request mix (allowed, 401 and 403 cases).
 */
export async function startChaosCluster(
  options: { natsNodes?: 1 | 3; workers?: number } = {},
): Promise<ChaosCluster> {
  const natsNodes = options.natsNodes ?? 1;
  const [natsCluster, nats, redis, idp] = await Promise.all([
    natsNodes === 3 ? startNatsCluster({ size: 3 }) : undefined,
    natsNodes === 1 ? startNats() : undefined,
    startRedis(),
    startIdp({ algs: ['RS256', 'ES256'] }),
  ]);
  const opaqueTokens = Array.from(
    { length: 6 },
    (_, i) => `opaque-chaos-${i}-${Math.random().toString(36).slice(2)}`,
  );
  const introspection = await startIntrospectionServer({
    authorization: INTROSPECTION_AUTH,
    tokens: Object.fromEntries(opaqueTokens.map((t, i) => [t, { active: true, sub: `nurse-${i}` }])),
  });
  const upstream = await recordingUpstream();

  const env: Record<string, string> = {
    NATS_URL: natsCluster?.url ?? nats!.url,
    REDIS_URL: redis.url,
    LOG_LEVEL: 'info',
    AUTHZ_INSECURE_HOSTS: '',
  };
  const adminPassword = `pw-${Math.random().toString(36).slice(2)}`;
  const configPort = await freePort();
  const configEnv = {
    ...env,
    CONFIG_PORT: String(configPort),
    CONFIG_ADMIN_PASSWORD: adminPassword,
    AUTHZ_KV_REPLICAS: String(natsNodes),
  };
  const auth = `Basic ${Buffer.from(`admin:${adminPassword}`).toString('base64')}`;
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`http://127.0.0.1:${configPort}${path}`, {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const config = await startService('config', configEnv);
  const workers = await Promise.all(
    Array.from({ length: options.workers ?? 3 }, () => startService('worker', env)),
  );
  const [proxyPort, forwardPort] = [await freePort(), await freePort()];
  const gateways = await Promise.all([
    startService('gateway', { ...env, GATEWAY_PORT: String(proxyPort), UPSTREAM_URL: upstream.url }),
    startService('gateway', { ...env, GATEWAY_PORT: String(forwardPort) }),
  ]);
  const targets: LoadTarget[] = [
    { url: `http://127.0.0.1:${proxyPort}`, mode: 'proxy' },
    { url: `http://127.0.0.1:${forwardPort}`, mode: 'forward' },
  ];

  for (const [path, body] of chaosResources(idp, introspection.url)) {
    const res = await admin('PUT', path, body);
    if (res.status !== 201) throw new Error(`PUT ${path} → ${res.status}: ${await res.text()}`);
  }
  const cases = await buildCases(idp, opaqueTokens);

  const cluster: ChaosCluster = {
    nats,
    natsCluster,
    redis,
    idp,
    introspection,
    config,
    workers,
    gateways,
    targets,
    cases,
    upstreamLeaks: () => upstream.leaks,
    admin,
    restartConfig: async () => {
      cluster.config = await startService('config', configEnv);
    },
    addWorker: async () => {
      const worker = await startService('worker', env);
      workers.push(worker);
      return worker;
    },
    underLoad: async (label, plan) => {
      const leaksBefore = upstream.leaks;
      const load = startLoad({ targets, cases, ...LOAD });
      await sleep(plan.beforeMs);
      const faultAt = Date.now();
      const note = await plan.fault();
      await sleep(Math.max(0, faultAt + plan.afterMs - Date.now()));
      const samples = await load.stop();
      const result = {
        stats: summarize(samples),
        after: summarize(samples, faultAt + 2000),
        leaks: upstream.leaks - leaksBefore,
      };
      console.log(
        formatStats(
          label,
          result.stats,
          `upstream_leaks=${result.leaks}${typeof note === 'string' ? ` ${note}` : ''}`,
        ),
      );
      return result;
    },
    waitUntilSettled: (timeoutMs = 15_000) => waitUntilSettled(targets, cases, timeoutMs),
    stop: async () => {
      const services = [...gateways, ...workers, cluster.config];
      await Promise.all(services.map((s) => s.stop('SIGKILL')));
      await Promise.all([
        natsCluster?.dispose(),
        nats?.dispose(),
        redis.dispose(),
        idp.dispose(),
        introspection.dispose(),
        new Promise((r) => upstream.server.close(r)),
      ]);
    },
  };
  try {
    await cluster.waitUntilSettled();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** An upstream that answers 200 and counts requests the load driver marked as must-deny. */
async function recordingUpstream(): Promise<{ url: string; server: Server; leaks: number }> {
  const port = await freePort();
  const state = { url: `http://127.0.0.1:${port}`, server: undefined as unknown as Server, leaks: 0 };
  state.server = createServer((req, res) => {
    const expected = req.headers[EXPECT_HEADER];
    if (expected !== undefined && expected !== '200') state.leaks++;
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream');
  });
  state.server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => state.server.listen(port, '127.0.0.1', () => resolve()));
  return state;
}

async function waitUntilSettled(targets: LoadTarget[], cases: LoadCase[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const wrong: string[] = [];
    for (const target of targets) {
      for (const c of cases) {
        const status = await once(target, c);
        if (status !== c.expect) wrong.push(`${target.mode} ${c.name}: ${status} (want ${c.expect})`);
      }
    }
    if (wrong.length === 0) return;
    last = wrong.join('; ');
    if (Date.now() > deadline) throw new Error(`cluster never settled: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function once(target: LoadTarget, c: LoadCase): Promise<number> {
  const headers: Record<string, string> = {};
  const authorization = c.authorization();
  if (authorization !== undefined) headers.authorization = authorization;
  const forward = target.mode === 'forward';
  if (forward) Object.assign(headers, { 'x-original-method': c.method, 'x-original-uri': c.path });
  try {
    const res = await fetch(`${target.url}${forward ? '/_authz/forward' : c.path}`, {
      method: forward ? 'GET' : c.method,
      headers,
      signal: AbortSignal.timeout(3000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
