// The runner's state directory (`.local/run-<pid>-*`: NATS stores, generated configs) and the
// record of its children. If a runner is SIGKILLed it cannot stop its children (they live in
// their own process groups), so the next runner reaps whatever a dead runner left behind.
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUN_PREFIX = 'run-';
/** Environment variable set on every child: its value (the state dir) identifies the run. */
export const RUN_MARKER = 'AUTHZ_LOCAL_RUN';

/**
 * Creates a private state directory under `<root>/.local/`, or the system temp dir when the
 * checkout is read-only.
 * @param {string} root
 */
export function createStateDir(root) {
  let dir;
  try {
    mkdirSync(join(root, '.local'), { recursive: true, mode: 0o700 });
    dir = mkdtempSync(join(root, '.local', `${RUN_PREFIX}${process.pid}-`));
  } catch {
    dir = mkdtempSync(join(tmpdir(), `authz-local-${RUN_PREFIX}${process.pid}-`));
  }
  writeFileSync(
    join(dir, 'runner.json'),
    JSON.stringify({ pid: process.pid, started: new Date().toISOString() }),
  );
  return dir;
}

/** Writes a file only its owner can read (configs hold passwords). */
export function writePrivate(path, text) {
  writeFileSync(path, text, { mode: 0o600 });
}

/**
 * Records the children of this run, so a later runner can reap them if this one is killed.
 * @param {string} dir
 * @param {{name: string, pid: number | undefined}[]} children
 */
export function recordChildren(dir, children) {
  try {
    writeFileSync(join(dir, 'children.json'), JSON.stringify(children.filter((c) => c.pid !== undefined)));
  } catch {
    // the directory is being removed during shutdown
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Whether `pid` is still a process of the run identified by `dir` (guards against pid reuse). */
function belongsToRun(pid, dir) {
  try {
    if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`${RUN_MARKER}=${dir}`))
      return true;
    // redis-server reuses its environment block for its process title; its cwd is in `dir`.
    return readlinkSync(`/proc/${pid}/cwd`).startsWith(dir);
  } catch {
    // No /proc (macOS) or not readable: fall back to the command line.
    const ps = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 && /authz-(config|worker|gateway)|nats-server|redis-server/.test(ps.stdout);
  }
}

function runnerAlive(pid) {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('run.mjs');
  } catch {
    return true;
  }
}

/**
 * Kills the children of runners that died without stopping them and removes their state.
 * @param {string} root
 * @param {(msg: string, fields?: object) => void} warn
 */
export function reapStale(root, warn) {
  const base = join(root, '.local');
  let entries = [];
  try {
    entries = readdirSync(base).filter((name) => name.startsWith(RUN_PREFIX));
  } catch {
    return;
  }
  for (const name of entries) {
    const dir = join(base, name);
    let runner;
    try {
      runner = JSON.parse(readFileSync(join(dir, 'runner.json'), 'utf8'));
    } catch {
      continue; // a runner still creating its directory, or not ours
    }
    if (typeof runner.pid !== 'number' || runnerAlive(runner.pid)) continue;
    let children = [];
    try {
      children = JSON.parse(readFileSync(join(dir, 'children.json'), 'utf8'));
    } catch {
      // died before starting anything
    }
    const reaped = [];
    for (const { name: child, pid } of children) {
      if (!isAlive(pid) || !belongsToRun(pid, dir)) continue;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        process.kill(pid, 'SIGKILL');
      }
      reaped.push(`${child} (pid ${pid})`);
    }
    if (reaped.length > 0)
      warn('stopped processes left behind by a runner that was killed', { runner: runner.pid, reaped });
    rmSync(dir, { recursive: true, force: true });
  }
}
