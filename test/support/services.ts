import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onLines } from '@authz/harness';

const root = fileURLToPath(new URL('../../', import.meta.url));

export type ServiceName = 'config' | 'worker' | 'gateway';

/** A service process started from its build (`services/<name>/dist/main.js`). */
export interface ServiceProcess {
  readonly name: ServiceName;
  readonly child: ChildProcess;
  /** Every JSON log line it printed so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Sends a signal and resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the first log line for which `predicate` holds. */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

/**
 * Starts a service and resolves once it logs `msg: "ready"`. The environment is the test's
 * explicit `env` over a minimal base: tests never inherit a developer's NATS_URL by accident.
 */
export async function startService(
  name: ServiceName,
  env: Record<string, string | undefined>,
  { readyTimeoutMs = 20_000 }: { readyTimeoutMs?: number } = {},
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [`${root}services/${name}/dist/main.js`], {
    cwd: root,
    // A gateway's ext_authz gRPC port defaults to a fixed 9191; tests that want it say so. Its
    // load shedding is off: a CI box starving the process would otherwise turn an expected
    // status into a 503 (overload.test.ts tests the shedding itself).
    env: {
      PATH: process.env.PATH,
      LOG_LEVEL: 'info',
      ...(name === 'gateway'
        ? { GATEWAY_GRPC_PORT: '0', GATEWAY_SHED_LAG_MS: '0', GATEWAY_SHED_BUSY_PERCENT: '0' }
        : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<(line: Record<string, unknown>) => void>();
  let stderr = '';
  onLines(child.stdout, (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    for (const waiter of waiters) waiter(line);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });

  const waitForLog: ServiceProcess['waitForLog'] = (predicate, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const found = logs.find(predicate);
      if (found) return resolve(found);
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${name}: no matching log line within ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
      const check = (line: Record<string, unknown>) => {
        if (!predicate(line)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(line);
      };
      waiters.add(check);
    });

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    return exited;
  };

  try {
    await Promise.race([
      waitForLog((line) => line.msg === 'ready', readyTimeoutMs),
      exited.then((code) => {
        throw new Error(
          `${name} exited with ${code} before ready: ${stderr}\n${JSON.stringify(logs.slice(-5))}`,
        );
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { name, child, logs, stop, waitForLog };
}
