import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnListening } from '@authz/harness';
import { freePort } from './ports.js';
import type { TestServer } from './servers.js';

/** One node of a {@link TestNatsCluster}: stop/start keep its ports, config and JetStream store. */
export interface TestNatsNode extends TestServer {
  /** `server_name` in its config (`nats-1` …). */
  readonly name: string;
  /** Monitoring port (`/varz`, `/jsz`, `/healthz`). */
  readonly monitorPort: number;
  /** Whether its process is running. */
  readonly running: boolean;
  /** `GET /varz` of the node, parsed. */
  varz(): Promise<Record<string, unknown>>;
}

/** A JetStream cluster of `nats-server` processes on loopback. */
export interface TestNatsCluster {
  readonly nodes: readonly TestNatsNode[];
  /** Client URL of every node. */
  readonly urls: readonly string[];
  /** The URLs comma-separated, as `NATS_URL` takes them. */
  readonly url: string;
  /**
   * Resolves once every running node answers `/healthz` and reports the same JetStream meta
   * leader with the full cluster size; returns the leader's name.
   */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  /** Stops every node and removes the stores. */
  dispose(): Promise<void>;
}

const SERVER_NAMES = (size: number) => Array.from({ length: size }, (_, i) => `nats-${i + 1}`);

/**
 * Starts a `size`-node (default 3) NATS JetStream cluster on free loopback ports: one config per
 * node (server_name, client, monitoring and route listeners, routes to every node, its own
 * store dir) in a temp dir, then waits for a meta leader. Local binaries only (no containers):
 * killing and restarting single nodes is what the cluster is for.
 *
 * @example
 * const nats = await startNatsCluster();
 * await startService('config', { NATS_URL: nats.url, AUTHZ_KV_REPLICAS: '3', … });
 * await nats.nodes[0].stop({ kill: true });
 */
export async function startNatsCluster(options: { size?: number } = {}): Promise<TestNatsCluster> {
  const size = options.size ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'authz-nats-cluster-'));
  const ports = await distinctFreePorts(size * 3);
  const nodes = SERVER_NAMES(size).map((name, i) => {
    const [client, monitor, route] = ports.slice(i * 3, i * 3 + 3) as [number, number, number];
    return { name, client, monitor, route };
  });
  const routes = nodes.map((n) => `"nats-route://127.0.0.1:${n.route}"`).join(', ');
  const handles = nodes.map((n) => {
    const store = join(dir, n.name);
    mkdirSync(store);
    const conf = join(dir, `${n.name}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: "${n.name}"`,
        `listen: "127.0.0.1:${n.client}"`,
        `http: "127.0.0.1:${n.monitor}"`,
        `jetstream { store_dir: "${store}", max_memory_store: 64MB, max_file_store: 256MB }`,
        `cluster { name: "authz-test", listen: "127.0.0.1:${n.route}", routes: [${routes}] }`,
        '',
      ].join('\n'),
    );
    return natsNode(n.name, n.client, n.monitor, conf);
  });
  const cluster: TestNatsCluster = {
    nodes: handles,
    urls: handles.map((h) => h.url),
    url: handles.map((h) => h.url).join(','),
    waitForMetaLeader: (timeoutMs = 30_000) => waitForMetaLeader(handles, size, timeoutMs),
    dispose: async () => {
      await Promise.all(handles.map((h) => h.stop({ kill: true })));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(handles.map((h) => h.start()));
    await cluster.waitForMetaLeader();
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
  return cluster;
}

/** `count` free ports, all different (freePort alone may hand the same one out twice). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

function natsNode(name: string, port: number, monitorPort: number, conf: string): TestNatsNode {
  const binary = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) =>
    existsSync(p),
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    if (child) return;
    child = await spawnListening(name, binary ?? 'nats-server', ['-c', conf], port);
  };
  const stop = async ({ kill = false } = {}) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(kill ? 'SIGKILL' : 'SIGTERM');
    });
  };
  return {
    name,
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorPort,
    get running() {
      return child !== undefined;
    },
    varz: () => monitor(monitorPort, '/varz'),
    start,
    stop,
    dispose: () => stop({ kill: true }),
  };
}

async function monitor(port: number, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`:${port}${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

async function waitForMetaLeader(
  nodes: readonly TestNatsNode[],
  size: number,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const leaders = new Set<string>();
      for (const node of nodes.filter((n) => n.running)) {
        const meta = (await monitor(node.monitorPort, '/jsz')).meta_cluster as
          | { leader?: string; cluster_size?: number }
          | undefined;
        if (!meta?.leader || meta.cluster_size !== size)
          throw new Error(`${node.name}: meta ${JSON.stringify(meta)}`);
        leaders.add(meta.leader);
        await monitor(node.monitorPort, '/healthz');
      }
      if (leaders.size === 1) return [...leaders][0] as string;
      last = `nodes disagree on the meta leader: ${[...leaders].join(', ')}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`no JetStream meta leader after ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
