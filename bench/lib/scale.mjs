// Scale-out, measured (issue 19): CPU per check per role gives checks/s per core; a 1 → 2 worker
// step with the load generator and nats-server pinned to CPU 0 and the workers to CPU 1 checks
// that model on this machine. Takes the run context `b` (see throughput.mjs); records `b.scale`.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { checkPayload, expectAllowed, SUBJECTS } from './cluster.mjs';
import { Measurement } from './measure.mjs';
import { natsLoad } from './nats-load.mjs';
import { cpuMicros, startService } from './procs.mjs';
import { ALLOW_POLICY } from './resources.mjs';
import { workerNodeArgs } from './system.mjs';

/** Pins every thread of `pid` to `cpus` (a taskset list such as "0" or "0-1"). */
function pin(pid, cpus) {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${pid} failed: ${r.stderr || r.error}`);
}

const hasTaskset = () => spawnSync('taskset', ['--version']).status === 0;

/** jwt_cached closed-loop through whatever workers are subscribed, with CPU per role. */
async function measureStep(b, name, workerPids) {
  const payload = checkPayload(b.tokens.cached);
  const into = new Measurement(name);
  const roles = { client: [process.pid], 'nats-server': [b.cluster.nats.proc.pid], workers: workerPids };
  const cpu = () => Object.values(roles).map((pids) => pids.reduce((s, pid) => s + cpuMicros(pid), 0));
  const before = cpu();
  await natsLoad(b.cluster.nc, SUBJECTS.check, {
    warmup: new Array(b.opts.sizes.warmup).fill(payload),
    measured: new Array(b.opts.sizes.requests).fill(payload),
    concurrency: b.opts.concurrency,
    validate: expectAllowed,
    into,
  });
  const after = cpu();
  for (const [i, role] of Object.keys(roles).entries()) into.addCpu(role, after[i] - before[i]);
  const r = into.result();
  into.histogram.destroy();
  return r;
}

/**
 * Checks/s one core gives a role, from CPU µs per check; the model's prediction for a step is
 * the smallest of the ceilings of the cores that step has (generator+nats share one core).
 */
export function scaleModel(cpuUs, workerCores) {
  const workerCeiling = (workerCores * 1e6) / cpuUs.workers;
  const frontCeiling = 1e6 / (cpuUs.client + cpuUs['nats-server']);
  return Math.round(Math.min(workerCeiling, frontCeiling));
}

export async function scaleScenario(b) {
  if (!b.opts.want('scale')) return;
  if (availableParallelism() < 2 || !hasTaskset()) {
    b.log('scale: needs 2 CPUs and taskset; skipped');
    return;
  }
  const all = `0-${availableParallelism() - 1}`;
  const [kept, ...others] = b.cluster.workers;
  const nats = b.cluster.nats.proc.pid;
  try {
    // One worker: the others leave the queue group (SIGTERM drains them).
    await Promise.all(others.map((w) => w.stop('SIGTERM', 8000)));
    pin(process.pid, '0');
    pin(nats, '0');
    pin(kept.pid, '1');
    const one = await measureStep(b, 'scale_1_worker', [kept.pid]);
    // Two workers on the same core: a second one joins, warmed up to the current configuration.
    const second = await startService('worker', b.cluster.env, { nodeArgs: workerNodeArgs(b.opts) });
    pin(second.pid, '1');
    b.cluster.workers = [kept, second];
    const revision = await b.cluster.revisionOf(ALLOW_POLICY);
    await b.cluster.waitForWorkers(revision, checkPayload(b.tokens.cached));
    const two = await measureStep(b, 'scale_2_workers_1_core', [kept.pid, second.pid]);
    b.scale = {
      pinning: 'load generator and nats-server on CPU 0, workers on CPU 1',
      one_worker: { ...one, predicted_rps: scaleModel(one.cpu_us_per_request, 1) },
      two_workers_one_core: { ...two, predicted_rps: scaleModel(two.cpu_us_per_request, 1) },
      checks_per_worker_core: Math.round(1e6 / one.cpu_us_per_request.workers),
    };
    for (const [step, r] of Object.entries(b.scale).filter(([, v]) => typeof v === 'object')) {
      const cpuText = Object.entries(r.cpu_us_per_request)
        .map(([role, us]) => `${role} ${us}`)
        .join(', ');
      b.log(
        `scale ${step}: ${r.rps} rps (model ${r.predicted_rps}), p50 ${r.p50_us} µs; CPU µs/check ${cpuText}`,
      );
    }
  } finally {
    for (const pid of [process.pid, nats, ...b.cluster.workers.map((w) => w.pid)]) {
      try {
        pin(pid, all);
      } catch {
        // a process that is gone needs no affinity
      }
    }
  }
}
