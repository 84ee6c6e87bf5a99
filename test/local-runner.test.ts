import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, mintJwt } from '@authz/test-support';
import { afterEach, describe, expect, it } from 'vitest';

// `npm start` end to end: the local runner (infra/local/run.mjs) starts real nats-server,
// redis-server and the built services, and stops every one of them again.

const root = fileURLToPath(new URL('../', import.meta.url));

interface Runner {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first stdout line matching `re` (already printed or still to come). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exit: Promise<number | null>;
  /** Every pid the runner reported, so a failed test can still clean up. */
  pids: Set<number>;
}

const runners: Runner[] = [];

function startRunner(env: Record<string, string>): Runner {
  // Only PATH and HOME from the outside: a developer's NATS_URL must not leak into the test.
  const child = spawn(process.execPath, [join(root, 'infra/local/run.mjs')], {
    cwd: root,
    // The gateway's ext_authz gRPC port is a fixed 9191 by default, which the CI box may hold.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NO_COLOR: '1',
      GATEWAY_GRPC_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<(line: string) => void>();
  let buffered = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      for (const waiter of waiters) waiter(line);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const runner: Runner = {
    child,
    lines,
    exit,
    pids: new Set(),
    waitFor: (re, timeoutMs = 45_000) =>
      new Promise((resolve, reject) => {
        for (const line of lines) {
          const match = re.exec(line);
          if (match) return resolve(match);
        }
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no line matching ${re} within ${timeoutMs} ms:\n${lines.slice(-30).join('\n')}\n${stderr}`,
            ),
          );
        }, timeoutMs);
        const check = (line: string) => {
          const match = re.exec(line);
          if (!match) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(match);
        };
        waiters.add(check);
        void exit.then((code) => {
          if (!waiters.has(check)) return;
          clearTimeout(timer);
          waiters.delete(check);
          reject(
            new Error(
              `runner exited (${code}) before a line matched ${re}:\n${lines.slice(-30).join('\n')}\n${stderr}`,
            ),
          );
        });
      }),
  };
  runners.push(runner);
  return runner;
}

afterEach(async () => {
  // A failed test must not leave a cluster behind: kill the runner, then whatever it started.
  for (const runner of runners.splice(0)) {
    if (runner.child.exitCode === null && runner.child.signalCode === null) {
      runner.child.kill('SIGKILL');
      await runner.exit;
    }
    for (const pid of runner.pids) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
  }
});

/** The command line `ps` shows for a pid: services replace it with their process.title. */
function commandLine(pid: number): string {
  return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function status(url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Sends SIGTERM and asserts a clean exit with every child and the state directory gone. */
/**
 * Processes that belong to the run with state directory `stateDir`: the runner marks each child's
 * environment (AUTHZ_LOCAL_RUN) and starts NATS and Redis inside it. Linux only (empty elsewhere).
 */
function processesOfRun(stateDir: string): number[] {
  if (!existsSync('/proc/self/environ')) return [];
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (
        env.includes(`AUTHZ_LOCAL_RUN=${stateDir}\0`) ||
        readlinkSync(`/proc/${entry}/cwd`).startsWith(stateDir)
      ) {
        found.push(Number(entry));
      }
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}

/** Sends SIGTERM and asserts a clean exit with every child and the state directory gone. */
async function stopAndExpectClean(runner: Runner, pids: number[], stateDir?: string): Promise<void> {
  runner.child.kill('SIGTERM');
  expect(await runner.exit).toBe(0);
  expect(pids.filter(isRunning)).toEqual([]);
  if (stateDir) {
    expect(existsSync(stateDir)).toBe(false);
    expect(processesOfRun(stateDir)).toEqual([]);
  }
  const leftovers = existsSync(join(root, '.local'))
    ? readdirSync(join(root, '.local')).filter((name) => name.startsWith(`run-${runner.child.pid}-`))
    : [];
  expect(leftovers).toEqual([]);
}

describe('local runner (npm start)', () => {
  it('starts NATS, Redis, config, two workers and the gateway, prints where they listen, restarts a killed worker and stops everything on SIGTERM', async () => {
    const [configPort, gatewayPort] = [await freePort(), await freePort()];
    const runner = startRunner({
      WORKERS: '2',
      CONFIG_PORT: String(configPort),
      GATEWAY_PORT: String(gatewayPort),
    });

    const pidsLine = await runner.waitFor(/^\s+pids\s+(.+)$/);
    const pids = Object.fromEntries(
      [...pidsLine[1]!.matchAll(/(\S+)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])] as const),
    );
    for (const pid of Object.values(pids)) runner.pids.add(pid);
    expect(Object.keys(pids).sort()).toEqual(['config', 'gateway', 'nats', 'redis', 'worker-1', 'worker-2']);

    const config = await runner.waitFor(/^\s+config\s+(http:\/\/\S+) admin user (\S+), password (\S+)$/);
    const gateway = await runner.waitFor(/^\s+gateway\s+(http:\/\/\S+)/);
    expect(config[1]).toBe(`http://127.0.0.1:${configPort}`);
    expect(gateway[1]).toBe(`http://127.0.0.1:${gatewayPort}`);
    await runner.waitFor(/^\s+NATS\s+nats:\/\/127\.0\.0\.1:\d+ \(JetStream; user authz, password \S+\)$/);
    await runner.waitFor(/^\s+Redis\s+redis:\/\/:\S+@127\.0\.0\.1:\d+$/);

    expect(await status(`${gateway[1]}/_authz/healthz`)).toBe(200);
    expect(await status(`${config[1]}/healthz`)).toBe(200);
    // The printed admin credentials are the ones the config service enforces.
    expect(await status(`${config[1]}/TokenIntrospector`)).toBe(401);
    expect(
      await status(`${config[1]}/TokenIntrospector`, {
        headers: { authorization: basic(config[2]!, config[3]!) },
      }),
    ).toBe(200);

    expect(commandLine(pids.config!)).toBe('authz-config');
    expect(commandLine(pids['worker-1']!)).toBe('authz-worker');
    expect(commandLine(pids['worker-2']!)).toBe('authz-worker');
    expect(commandLine(pids.gateway!)).toBe('authz-gateway');
    expect(commandLine(pids.nats!)).toMatch(/nats-server -c .*\/nats\.conf$/);
    expect(commandLine(pids.redis!)).toMatch(/redis-server 127\.0\.0\.1:\d+/);

    if (existsSync(`/proc/${pids['worker-1']}/environ`)) {
      // Least privilege: only the config service is given the admin password.
      const workerEnv = readFileSync(`/proc/${pids['worker-1']}/environ`, 'latin1').split('\0');
      const configEnv = readFileSync(`/proc/${pids.config}/environ`, 'latin1').split('\0');
      expect(workerEnv.some((v) => v.startsWith('CONFIG_ADMIN_PASSWORD='))).toBe(false);
      expect(configEnv).toContain(`CONFIG_ADMIN_PASSWORD=${config[3]}`);
    }

    process.kill(pids['worker-1']!, 'SIGKILL');
    const restarted = await runner.waitFor(/ worker-1 restarted pid=(\d+)$/, 20_000);
    const newWorker = Number(restarted[1]);
    runner.pids.add(newWorker);
    expect(newWorker).not.toBe(pids['worker-1']);
    expect(commandLine(newWorker)).toBe('authz-worker');
    expect(await status(`${gateway[1]}/_authz/healthz`)).toBe(200);

    await stopAndExpectClean(runner, [...Object.values(pids), newWorker]);
  }, 120_000);

  it.each(['warn', 'error'])(
    'starts with LOG_LEVEL=%s, when no service logs its info-level `ready` line, and prints where things listen',
    async (level) => {
      const [configPort, gatewayPort] = [await freePort(), await freePort()];
      const runner = startRunner({
        LOG_LEVEL: level,
        WORKERS: '1',
        CONFIG_PORT: String(configPort),
        GATEWAY_PORT: String(gatewayPort),
      });
      const pidsLine = await runner.waitFor(/^\s+pids\s+(.+)$/);
      const pids = [...pidsLine[1]!.matchAll(/(\S+)=(\d+)/g)].map((m) => Number(m[2]));
      for (const pid of pids) runner.pids.add(pid);
      expect(pids).toHaveLength(5);
      const config = await runner.waitFor(/^\s+config\s+(http:\/\/\S+) admin user (\S+), password (\S+)$/);
      const gateway = await runner.waitFor(/^\s+gateway\s+(http:\/\/\S+)/);
      expect(config[1]).toBe(`http://127.0.0.1:${configPort}`);
      expect(gateway[1]).toBe(`http://127.0.0.1:${gatewayPort}`);
      expect(await status(`${config[1]}/readyz`)).toBe(200);
      expect(await status(`${gateway[1]}/_authz/readyz`)).toBe(200);
      // The services were quiet below the level: readiness did not come from their log lines.
      expect(runner.lines.filter((line) => / (config|worker-1|gateway) +INFO /.test(line))).toEqual([]);
      await stopAndExpectClean(runner, pids);
    },
    90_000,
  );

  it('runs a 3-node JetStream cluster with NATS_CLUSTER=3, replicates the config bucket on all three and keeps deciding when a node is killed', async () => {
    const [configPort, gatewayPort] = [await freePort(), await freePort()];
    const runner = startRunner({
      NATS_CLUSTER: '3',
      WORKERS: '2',
      LOG_FORMAT: 'json',
      CONFIG_PORT: String(configPort),
      GATEWAY_PORT: String(gatewayPort),
    });
    const ready = await runner.waitFor(/^\{.*"msg":"cluster ready".*\}$/, 60_000);
    const facts = JSON.parse(ready[0]) as {
      nats: { urls: string[]; nodes: number; monitor: string[]; metaLeader: string };
      config: { url: string; kvReplicas: number; adminUser: string; adminPassword: string };
      gateway: { url: string };
      processes: Array<{ name: string; pid: number }>;
      stateDir: string;
    };
    for (const { pid } of facts.processes) runner.pids.add(pid);
    expect(facts.nats.nodes).toBe(3);
    expect(facts.nats.urls).toHaveLength(3);
    expect(facts.nats.metaLeader).toMatch(/^authz-local-nats-[123]$/);
    expect(facts.config.kvReplicas).toBe(3);
    expect(facts.processes.map((p) => p.name).sort()).toEqual(
      ['config', 'gateway', 'nats-1', 'nats-2', 'nats-3', 'redis', 'worker-1', 'worker-2'].sort(),
    );

    const metas = async () =>
      Promise.all(
        facts.nats.monitor.map(
          async (monitor) =>
            (
              (await (await fetch(`${monitor}/jsz`)).json()) as {
                meta_cluster: { cluster_size: number; leader?: string };
              }
            ).meta_cluster,
        ),
      );
    for (const meta of await metas()) expect(meta.cluster_size).toBe(3);
    // Leadership may move right after the cluster forms; what matters is that all nodes agree.
    await expect
      .poll(async () => new Set((await metas()).map((m) => m.leader ?? 'none')), { timeout: 10_000 })
      .toSatisfy((leaders: Set<string>) => leaders.size === 1 && !leaders.has('none'));
    const detail = (await (
      await fetch(`${facts.nats.monitor[0]}/jsz?accounts=true&streams=true&config=true`)
    ).json()) as {
      account_details?: Array<{ stream_detail?: Array<{ name: string; config?: { num_replicas: number } }> }>;
    };
    const streams = (detail.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
    expect(streams.find((s) => s.name === 'KV_authz_config')?.config?.num_replicas).toBe(3);

    expect(await status(`${facts.gateway.url}/_authz/healthz`)).toBe(200);
    expect(await status(`${facts.config.url}/healthz`)).toBe(200);
    const titles = facts.processes.map((p) => [p.name, commandLine(p.pid)] as const);
    expect(titles.filter(([, cmd]) => cmd.includes('nats-server'))).toHaveLength(3);
    expect(titles.filter(([, cmd]) => cmd === 'authz-worker')).toHaveLength(2);

    // Failover: with one of three NATS nodes killed, decisions go on and configuration writes
    // still reach a quorum; the runner brings the node back.
    const admin = {
      authorization: basic(facts.config.adminUser, facts.config.adminPassword),
      'content-type': 'application/json',
    };
    const put = (path: string, body: unknown) =>
      status(`${facts.config.url}${path}`, { method: 'PUT', headers: admin, body: JSON.stringify(body) });
    expect(
      await put('/TokenIntrospector/idp', {
        resourceType: 'TokenIntrospector',
        type: 'jwt',
        jwt: { iss: 'https://idp.test', secret: 'cluster-secret' },
      }),
    ).toBe(201);
    expect(
      await put('/AccessPolicy/idp-users', {
        resourceType: 'AccessPolicy',
        engine: 'json-schema',
        schema: {
          required: ['jwt'],
          properties: { jwt: { required: ['iss'], properties: { iss: { const: 'https://idp.test' } } } },
        },
      }),
    ).toBe(201);
    const token = await mintJwt({
      key: 'cluster-secret',
      alg: 'HS256',
      claims: { iss: 'https://idp.test', sub: 'u1' },
    });
    const check = () =>
      status(`${facts.gateway.url}/fhir/Patient`, { headers: { authorization: `Bearer ${token}` } });
    await expect.poll(check, { timeout: 10_000, interval: 100 }).toBe(200);

    const victim = facts.processes.find((p) => p.name === 'nats-1')!.pid;
    process.kill(victim, 'SIGKILL');
    const seen = new Set<number>();
    await expect
      .poll(
        async () => {
          const code = await check();
          seen.add(code);
          return code;
        },
        { timeout: 15_000, interval: 100 },
      )
      .toBe(200);
    // Never an allow it should not give, never an error other than "cannot decide now".
    expect(
      [...seen].filter((code) => code !== 200 && code !== 503),
      `statuses during failover: ${[...seen]}`,
    ).toEqual([]);
    await expect
      .poll(() => put('/User/u1', { resourceType: 'User' }), { timeout: 15_000, interval: 200 })
      .toBe(201);
    // A killed meta leader comes back only after the other two elect a new one and the node has
    // caught up (7 s on an idle machine, far more under a loaded CI box): wait as long as the
    // runner itself gives a restart to become ready (30 s) plus its back-off.
    const restarted = await runner.waitFor(/"msg":"nats-1 restarted".*"pid":(\d+)/, 45_000);
    runner.pids.add(Number(restarted[1]));
    expect(commandLine(Number(restarted[1]))).toMatch(/nats-server -c .*\/nats-1\/nats\.conf$/);

    await stopAndExpectClean(
      runner,
      [...facts.processes.map((p) => p.pid), Number(restarted[1])],
      facts.stateDir,
    );
  }, 120_000);

  it('stops the whole cluster with exit code 1 when the config service dies', async () => {
    const runner = startRunner({
      WORKERS: '1',
      LOG_FORMAT: 'json',
      CONFIG_PORT: String(await freePort()),
      GATEWAY_PORT: String(await freePort()),
    });
    const ready = await runner.waitFor(/^\{.*"msg":"cluster ready".*\}$/);
    const { processes } = JSON.parse(ready[0]) as { processes: Array<{ name: string; pid: number }> };
    for (const { pid } of processes) runner.pids.add(pid);
    process.kill(processes.find((p) => p.name === 'config')!.pid, 'SIGKILL');
    expect(await runner.exit).toBe(1);
    expect(processes.map((p) => p.pid).filter(isRunning)).toEqual([]);
    await runner.waitFor(
      /"msg":"config exited unexpectedly \(code null, signal SIGKILL\); stopping the cluster"/,
      1000,
    );
  });

  it('stops cleanly with exit code 0 when SIGTERM arrives in the middle of start-up', async () => {
    const runner = startRunner({
      WORKERS: '2',
      LOG_FORMAT: 'json',
      CONFIG_PORT: String(await freePort()),
      GATEWAY_PORT: String(await freePort()),
    });
    const starting = await runner.waitFor(/"msg":"starting".*"state":"([^"]+)"/);
    // The config service has printed its first line: NATS and Redis are up, services not yet.
    await runner.waitFor(/"service":"authz-config"/);
    runner.child.kill('SIGTERM');
    expect(await runner.exit).toBe(0);
    expect(runner.lines.some((line) => line.includes('"msg":"cluster ready"'))).toBe(false);
    expect(existsSync(starting[1]!)).toBe(false);
    expect(processesOfRun(starting[1]!)).toEqual([]);
  });

  it('refuses to start, naming every bad setting, and starts nothing', async () => {
    const runner = startRunner({ WORKERS: 'many', NATS_CLUSTER: '2', LOG_FORMAT: 'json' });
    expect(await runner.exit).toBe(2);
    const line = await runner.waitFor(/"msg":"cannot start:/, 1000);
    const { problems } = JSON.parse(line.input) as { problems: string[] };
    expect(problems).toEqual([
      'NATS_CLUSTER=2 must be odd (1, 3 or 5) to keep a quorum',
      'WORKERS="many" must be an integer from 0 to 64',
    ]);
  });
});
