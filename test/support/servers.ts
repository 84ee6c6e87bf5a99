import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, spawnListening } from '@authz/harness';
import { freePort } from './ports.js';

/** A server a test owns: it can be stopped and started again on the same port and data. */
export interface TestServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, or SIGKILL with `{kill: true}`). */
  stop(options?: { kill?: boolean }): Promise<void>;
  /** Starts it again on the same port (and, for NATS, the same JetStream store). */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

let dockerChecked: boolean | undefined;

/** Whether a Docker engine answers; testcontainers is used only then. */
export function dockerAvailable(): boolean {
  if (dockerChecked !== undefined) return dockerChecked;
  if (process.env.AUTHZ_TEST_NO_DOCKER === '1') {
    dockerChecked = false;
    return dockerChecked;
  }
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 3000 });
    dockerChecked = true;
  } catch {
    dockerChecked = false;
  }
  return dockerChecked;
}

/** The server binary, found as the runner and the bench find it; the bare name lets spawn report it missing. */
const binary = (name: string): string => findBinary(name) ?? name;

/** A local process server; `args(port)` builds its command line. */
function processServer(
  command: string,
  args: (port: number) => string[],
  scheme: string,
  cleanup: () => void,
) {
  return async (port: number): Promise<TestServer> => {
    let child: ChildProcess | undefined;
    const start = async () => {
      child = await spawnListening(command, binary(command), args(port), port);
    };
    const stop = async ({ kill = false } = {}) => {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill(kill ? 'SIGKILL' : 'SIGTERM');
      });
    };
    await start();
    return {
      url: `${scheme}://127.0.0.1:${port}`,
      port,
      stop,
      start,
      dispose: async () => {
        await stop({ kill: true });
        cleanup();
      },
    };
  };
}

/** Starts a `nats-server` with JetStream on a free port (a container when Docker is reachable). */
export async function startNats(options: { port?: number } = {}): Promise<TestServer> {
  const port = options.port ?? (await freePort());
  if (dockerAvailable()) return containerServer('nats:2.10-alpine', 4222, port, 'nats', ['-js']);
  const dir = mkdtempSync(join(tmpdir(), 'authz-nats-'));
  return processServer(
    'nats-server',
    (p) => ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', dir],
    'nats',
    () => rmSync(dir, { recursive: true, force: true }),
  )(port);
}

/** Starts a `redis-server` without persistence on a free port (a container when Docker is reachable). */
export async function startRedis(options: { port?: number } = {}): Promise<TestServer> {
  const port = options.port ?? (await freePort());
  if (dockerAvailable()) return containerServer('redis:7-alpine', 6379, port, 'redis', []);
  return processServer(
    'redis-server',
    (p) => ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    'redis',
    () => {},
  )(port);
}

async function containerServer(
  image: string,
  containerPort: number,
  hostPort: number,
  scheme: string,
  command: string[],
): Promise<TestServer> {
  const { GenericContainer, Wait } = await import('testcontainers');
  let container: Awaited<ReturnType<InstanceType<typeof GenericContainer>['start']>> | undefined;
  const start = async () => {
    let builder = new GenericContainer(image)
      .withExposedPorts({ container: containerPort, host: hostPort })
      .withWaitStrategy(Wait.forListeningPorts());
    if (command.length > 0) builder = builder.withCommand(command);
    container = await builder.start();
  };
  await start();
  return {
    url: `${scheme}://127.0.0.1:${hostPort}`,
    port: hostPort,
    stop: async () => {
      await container?.stop();
      container = undefined;
    },
    start,
    dispose: async () => {
      await container?.stop();
    },
  };
}
