// One child process of the local runner: spawned in its own process group (so a Ctrl-C in the
// terminal reaches only the runner, which then stops children in order), its output relayed
// line by line, its readiness awaited from a log line or an IPC message, and its stop bounded by a grace period.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseLine } from './logs.mjs';

const TAIL_LINES = 40;

/**
 * @typedef {object} ProcessSpec
 * @property {string} name         shown before each relayed line (`worker-1`)
 * @property {string} command
 * @property {string[]} args
 * @property {NodeJS.ProcessEnv} env
 * @property {string} cwd
 * @property {number} [relayLevel] lines below this pino level are kept for diagnostics, not shown
 * @property {RegExp} [quiet]      lines matching this are kept for diagnostics, not shown
 * @property {boolean} [ipc]       open an IPC channel (Node children announce readiness on it)
 */

/**
 * @typedef {object} ExitInfo
 * @property {number | null} code
 * @property {NodeJS.Signals | null} signal
 * @property {Error} [error]       the spawn itself failed (e.g. binary not found)
 */

/**
 * Starts a process.
 * @param {ProcessSpec} spec
 * @param {ReturnType<import('./logs.mjs').createConsole>} out
 */
export function startProcess(spec, out) {
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    // The IPC channel carries the service's readiness (`announceReady` in @authz/runtime).
    stdio: spec.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.on('message', (message) => {
    for (const waiter of messageWaiters) waiter(message);
  });
  const tail = [];
  /** @type {Set<(line: ReturnType<typeof parseLine>) => void>} */
  const lineWaiters = new Set();
  /** @type {Set<(message: unknown) => void>} */
  const messageWaiters = new Set();
  const relayLevel = spec.relayLevel ?? 0;

  const onLine = (raw) => {
    const parsed = parseLine(raw);
    tail.push(raw.length > 2000 ? raw.slice(0, 2000) + '…' : raw);
    if (tail.length > TAIL_LINES) tail.shift();
    if (parsed.level >= relayLevel && !spec.quiet?.test(raw)) out.child(spec.name, parsed, raw);
    for (const waiter of lineWaiters) waiter(parsed);
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);

  /** @type {Promise<ExitInfo>} */
  const exited = new Promise((resolve) => {
    child.once('error', (error) => {
      // 'close' does not follow a failed spawn.
      if (child.pid === undefined) resolve({ code: null, signal: null, error });
    });
    // 'close' (not 'exit'): by then every line the process printed has been read.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  exited.then(() => {
    done = true;
  });

  const signalGroup = (signal) => {
    if (done || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  };

  /**
   * The first value a waiter set sees that matches `predicate`; rejects on timeout or exit.
   * @template T
   * @param {Set<(value: T) => void>} waiters
   * @param {(value: T) => boolean} predicate
   * @param {{timeoutMs: number, what: string}} options
   * @returns {Promise<T>}
   */
  const waitFor = (waiters, predicate, { timeoutMs, what }) =>
    new Promise((resolve, reject) => {
      const finish = (fn, value) => {
        clearTimeout(timer);
        waiters.delete(check);
        fn(value);
      };
      /** @param {T} value */
      const check = (value) => {
        if (predicate(value)) finish(resolve, value);
      };
      const timer = setTimeout(
        () =>
          finish(
            reject,
            new Error(`${spec.name}: not ${what} after ${timeoutMs} ms; last output:\n${tail.join('\n')}`),
          ),
        timeoutMs,
      );
      waiters.add(check);
      exited.then(({ code, signal, error }) => {
        const how = error ? `could not start (${error.message})` : `exited (code ${code}, signal ${signal})`;
        finish(
          reject,
          new Error(`${spec.name} ${how} before it was ${what}; last output:\n${tail.join('\n')}`),
        );
      });
    });

  return {
    name: spec.name,
    pid: child.pid,
    exited,
    alive: () => !done,
    /** The last lines the process printed, for error messages. */
    tail: () => tail.join('\n'),
    /**
     * Resolves with the first parsed line matching `predicate`; rejects on timeout or exit.
     * @param {(line: ReturnType<typeof parseLine>) => boolean} predicate
     * @param {{timeoutMs: number, what: string}} options
     */
    waitForLine: (predicate, options) => waitFor(lineWaiters, predicate, options),
    /**
     * Resolves with the first IPC message matching `predicate` (the process must have been
     * started with `ipc: true`); rejects on timeout or exit. Unlike a log line, a message does
     * not depend on the child's log level.
     * @param {(message: any) => boolean} predicate
     * @param {{timeoutMs: number, what: string}} options
     */
    waitForMessage: (predicate, options) => waitFor(messageWaiters, predicate, options),
    /**
     * SIGTERM to the process group, SIGKILL after `graceMs`. Resolves once it has exited.
     * @returns {Promise<ExitInfo & {killed: boolean}>}
     */
    async stop({ graceMs }) {
      if (done) return { ...(await exited), killed: false };
      signalGroup('SIGTERM');
      let timer;
      const timedOut = new Promise((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      });
      const killed = (await Promise.race([exited.then(() => false), timedOut])) === true;
      clearTimeout(timer);
      if (killed) signalGroup('SIGKILL');
      return { ...(await exited), killed };
    },
    /** SIGKILL now, synchronously (for the runner's own emergency exit). */
    kill: () => signalGroup('SIGKILL'),
  };
}

/** @typedef {ReturnType<typeof startProcess>} ManagedProcess */
