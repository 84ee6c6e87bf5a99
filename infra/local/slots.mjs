// A slot is one long-lived role in the local cluster (`nats-2`, `worker-1`, `gateway`): it
// launches its process, waits until that process is ready, and on an unexpected exit either
// restarts it with exponential backoff (workers, nodes of a NATS cluster) or reports it fatal.
import { startProcess } from './processes.mjs';

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15_000;
/** A process that stayed up this long is healthy again: its next crash restarts quickly. */
const STABLE_AFTER_MS = 30_000;

/**
 * @typedef {object} SlotOptions
 * @property {string} name
 * @property {() => import('./processes.mjs').ProcessSpec} spec   built at each launch
 * @property {(proc: import('./processes.mjs').ManagedProcess) => Promise<unknown>} ready
 * @property {boolean} restartable
 * @property {'service' | 'infra'} tier   services stop before the servers they depend on
 */

/**
 * @typedef {object} SlotHooks
 * @property {ReturnType<import('./logs.mjs').createConsole>} out
 * @property {() => boolean} stopping
 * @property {() => boolean} started     restarts happen only once the cluster is up
 * @property {(reason: string) => void} fatal
 * @property {() => void} changed        a pid changed (the run record is rewritten)
 */

export class Slot {
  /** @param {SlotOptions} options @param {SlotHooks} hooks */
  constructor(options, hooks) {
    this.options = options;
    this.hooks = hooks;
    this.name = options.name;
    this.tier = options.tier;
    /** @type {import('./processes.mjs').ManagedProcess | undefined} */
    this.proc = undefined;
    this.ready = false;
    this.readyAt = 0;
    this.failures = 0;
    /** @type {NodeJS.Timeout | undefined} */
    this.timer = undefined;
    /** What the ready check returned (e.g. the service's ready message). */
    this.readyInfo = undefined;
  }

  get pid() {
    return this.proc?.pid;
  }

  /** Starts the process and resolves once it is ready; rejects (and kills it) otherwise. */
  async launch() {
    if (this.hooks.stopping()) throw new Error(`${this.name}: not started, the cluster is stopping`);
    const proc = startProcess(this.options.spec(), this.hooks.out);
    this.proc = proc;
    this.ready = false;
    this.hooks.changed();
    proc.exited.then((info) => this.onExit(proc, info));
    try {
      this.readyInfo = await this.options.ready(proc);
    } catch (err) {
      proc.kill();
      throw err;
    }
    this.ready = true;
    this.readyAt = Date.now();
    return this.readyInfo;
  }

  /** @param {import('./processes.mjs').ManagedProcess} proc @param {import('./processes.mjs').ExitInfo} info */
  onExit(proc, { code, signal, error }) {
    if (proc !== this.proc || this.hooks.stopping()) return;
    const how = error
      ? `could not start: ${error.message}`
      : `exited unexpectedly (code ${code}, signal ${signal})`;
    if (!this.hooks.started()) {
      // Before start-up completes, a process that was not ready yet fails its own launch();
      // one that was ready and died since means the cluster cannot come up.
      if (this.ready) this.hooks.fatal(`${this.name} ${how} during start-up`);
      return;
    }
    if (!this.options.restartable) {
      this.hooks.fatal(`${this.name} ${how}; stopping the cluster`);
      return;
    }
    if (this.ready && Date.now() - this.readyAt > STABLE_AFTER_MS) this.failures = 0;
    const delay = Math.min(BACKOFF_BASE_MS * 2 ** this.failures, BACKOFF_MAX_MS);
    this.failures += 1;
    this.ready = false;
    this.hooks.out.log(40, `${this.name} ${how}; restarting in ${delay} ms`, { pid: proc.pid });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.hooks.stopping()) return;
      this.launch().then(
        () => this.hooks.out.log(30, `${this.name} restarted`, { pid: this.pid }),
        // The failed process's exit schedules the next attempt.
        (err) =>
          this.hooks.stopping() || this.hooks.out.log(50, `${this.name} restart failed: ${err.message}`),
      );
    }, delay);
  }

  /** Cancels a pending restart and stops the process (SIGTERM, SIGKILL after `graceMs`). */
  async stop(graceMs) {
    clearTimeout(this.timer);
    this.timer = undefined;
    const proc = this.proc;
    if (!proc) return;
    const { code, signal, killed } = await proc.stop({ graceMs });
    if (killed)
      this.hooks.out.log(40, `${this.name} did not stop within ${graceMs} ms; killed`, { pid: proc.pid });
    else this.hooks.out.log(20, `${this.name} stopped`, { pid: proc.pid, code, signal });
  }

  /** SIGKILL, synchronously. */
  kill() {
    clearTimeout(this.timer);
    this.proc?.kill();
  }
}
