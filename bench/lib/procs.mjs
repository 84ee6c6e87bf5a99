// Processes the benchmark owns: nats-server, redis-server, the built services and small child
// scripts. Every one is registered so that `stopAll` (also run on SIGINT/SIGTERM) ends them.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary, freePort, onLines, waitForTcp } from '../../packages/harness/dist/index.js';

/** Repository root (bench/ lives directly under it). */
export const root = fileURLToPath(new URL('../../', import.meta.url));

const running = new Set();
const tempDirs = new Set();

/** A TCP port that was free on 127.0.0.1 a moment ago (the harness's). */
export { freePort };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The server binary, found as the runner and the tests find it; the bare name lets spawn report it missing. */
const binary = (name) => findBinary(name) ?? name;

/** `nats-server --version` → "2.9.10". */
export function natsServerVersion() {
  const r = spawnSync(binary('nats-server'), ['--version'], { encoding: 'utf8' });
  const match = /v?(\d+\.\d+\.\d+\S*)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`);
  return match ? match[1] : 'unknown';
}

/**
 * Spawns a process and registers it. `ready` (optional) receives each stdout line and returns
 * true once the process is ready; the promise rejects if it exits first.
 * @param {string} name
 * @param {string} command
 * @param {string[]} args
 * @param {{env?: Record<string, string | undefined>, ready?: (line: string) => boolean,
 *          readyTimeoutMs?: number, inheritEnv?: boolean}} [options]
 */
export function spawnOwned(
  name,
  command,
  args,
  { env = {}, ready, readyTimeoutMs = 30_000, inheritEnv = false } = {},
) {
  const spawnedAt = performance.now();
  const child = spawn(command, args, {
    cwd: root,
    env: inheritEnv ? { ...process.env, ...env } : { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = { name, child, pid: child.pid, spawnedAt, lines: [], stderr: '', readyAt: undefined };
  running.add(proc);
  child.once('exit', () => running.delete(proc));
  const waiters = new Set();
  onLines(child.stdout, (line) => {
    if (proc.lines.length < 2000) proc.lines.push(line);
    for (const waiter of waiters) waiter(line);
  });
  child.stderr.on('data', (chunk) => {
    proc.stderr = (proc.stderr + chunk.toString()).slice(-8000);
  });
  proc.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  proc.waitForLine = (predicate, timeoutMs) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${name}: not ready within ${timeoutMs} ms; stderr: ${proc.stderr.slice(-2000)}`));
      }, timeoutMs);
      const check = (line) => {
        if (!predicate(line)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(line);
      };
      waiters.add(check);
      proc.exited.then((code) => {
        if (!waiters.has(check)) return;
        clearTimeout(timer);
        waiters.delete(check);
        reject(
          new Error(
            `${name} exited (${code}) before ready: ${proc.stderr.slice(-2000)} ${proc.lines.slice(-5).join('\n')}`,
          ),
        );
      });
    });
  proc.stop = async (/** @type {NodeJS.Signals} */ signal = 'SIGTERM', graceMs = 5000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await proc.exited;
    clearTimeout(timer);
  };
  proc.ready = ready
    ? proc.waitForLine(ready, readyTimeoutMs).then(() => {
        proc.readyAt = performance.now();
        return proc;
      })
    : Promise.resolve(proc);
  return proc;
}

/** Starts nats-server with JetStream on a free loopback port; resolves with its URL and process. */
export async function startNatsServer() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'authz-bench-nats-'));
  tempDirs.add(dir);
  const proc = spawnOwned('nats-server', binary('nats-server'), [
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
    '-js',
    '-sd',
    dir,
  ]);
  await waitForTcp(port);
  return { url: `nats://127.0.0.1:${port}`, proc, storeDir: dir };
}

/** Starts redis-server without persistence on a free loopback port. */
export async function startRedisServer() {
  const port = await freePort();
  const proc = spawnOwned('redis-server', binary('redis-server'), [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  await waitForTcp(port);
  return { url: `redis://127.0.0.1:${port}`, proc };
}

/**
 * Starts a built service (`services/<name>/dist/main.js`) and resolves once it logs
 * `{"msg":"ready"}`. `nodeArgs` go to that node process only (e.g. `--cpu-prof`, which NODE_OPTIONS refuses).
 */
export async function startService(name, env, { nodeArgs = [], readyTimeoutMs = 60_000 } = {}) {
  // BENCH_<SERVICE>_MAIN runs another build of a service (an A/B against an older commit's
  // worktree: BENCH_GATEWAY_MAIN=/path/to/old/services/gateway/dist/main.js).
  const main =
    process.env[`BENCH_${name.toUpperCase()}_MAIN`] ?? join(root, 'services', name, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build first (pnpm exec turbo run build)`);
  const proc = spawnOwned(`authz-${name}`, process.execPath, [...nodeArgs, main], {
    env: { LOG_LEVEL: 'info', ...env },
    ready: (line) => isReadyLine(line),
    readyTimeoutMs,
  });
  return proc.ready;
}

function isReadyLine(line) {
  if (!line.includes('"ready"')) return false;
  try {
    return JSON.parse(line).msg === 'ready';
  } catch {
    return false;
  }
}

/** Runs a script under bench/child as a registered process. */
export function startChild(script, args = [], readyLine) {
  const proc = spawnOwned(script, process.execPath, [join(root, 'bench', 'child', script), ...args], {
    ready: readyLine ? (line) => line.startsWith(readyLine) : undefined,
    inheritEnv: true,
  });
  return proc.ready;
}

/** Resident set size of a process in MiB (VmRSS of /proc/<pid>/status). */
export function rssMiB(pid) {
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`cannot read VmRSS of pid ${pid}`);
  return Number(match[1]) / 1024;
}

// Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux this runs on.
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system, all threads) a process has used so far, in µs; 0 once it is gone. */
export function cpuMicros(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may itself contain spaces).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Stops every process still running (SIGTERM, then SIGKILL after `graceMs`) and removes temp dirs. */
export async function stopAll(graceMs = 5000) {
  await Promise.all([...running].map((p) => p.stop('SIGTERM', graceMs).catch(() => {})));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Stops everything on Ctrl-C / SIGTERM, then exits 130 / 143. */
export function stopOnSignals() {
  let stopping = false;
  for (const [signal, code] of /** @type {Array<[NodeJS.Signals, number]>} */ ([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ])) {
    process.on(signal, () => {
      if (stopping) process.exit(code);
      stopping = true;
      process.stderr.write(`\n[bench] ${signal}: stopping everything\n`);
      stopAll(2000).finally(() => process.exit(code));
    });
  }
}
