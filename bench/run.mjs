#!/usr/bin/env node
// `npm run bench` (DESIGN §9, issue 6): one run on this machine, loopback only, real servers.
// Every scenario sends a fixed number of requests at a fixed concurrency after a warm-up, and is
// reported as throughput and p50/p99 (HDR histogram) plus a ratio to its floor from the same run.
// See bench/README.md for the method of each measurement.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { bundleScenarios } from './lib/bundle-check.mjs';
import { checkPayload, startCluster, stopCluster } from './lib/cluster.mjs';
import { dpopScenario } from './lib/dpop.mjs';
import { extAuthzScenarios } from './lib/ext-authz.mjs';
import { latencyScenario } from './lib/latency.mjs';
import { writeLatencySvg } from './lib/latency-svg.mjs';
import { parseOptions } from './lib/options.mjs';
import { natsServerVersion, root, stopAll, stopOnSignals } from './lib/procs.mjs';
import { proxyPostScenarios } from './lib/proxy-post.mjs';
import { addRatios, latencyTable, resultsJson, table } from './lib/report.mjs';
import { responseCheckScenarios } from './lib/response-check.mjs';
import { revocationScenario } from './lib/revocation.mjs';
import { scaleScenario } from './lib/scale.mjs';
import { coldStartAndMemory, propagationScenario, workerNodeArgs } from './lib/system.mjs';
import { httpScenarios, mintTokens, policyScenarios, smokeCheck, tokenScenarios } from './lib/throughput.mjs';
import { generateKeys } from './lib/tokens.mjs';

const opts = parseOptions();
const t0 = performance.now();
const log = (msg) =>
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);

/** Timings mean little on a busy machine; say so at the start and end of the run. */
function logLoad(when) {
  const [one] = loadavg();
  const busy = one > availableParallelism() * 0.5;
  log(
    `${when}: load average ${one.toFixed(2)} on ${availableParallelism()} CPUs${busy ? ' (busy machine: numbers are noisy)' : ''}`,
  );
}

async function main() {
  stopOnSignals();
  logLoad('start');
  const keys = generateKeys();
  const b = { opts, keys, measurements: {}, windows: {}, log };
  b.tokens = await mintTokens(keys, opts.sizes, opts.want, log);
  for (const dir of [opts.profileDir, opts.gatewayProfileDir]) if (dir) mkdirSync(dir, { recursive: true });
  try {
    b.cluster = await startCluster({ workers: opts.workers, nodeArgs: workerNodeArgs(opts), keys, log });
    const base = await b.cluster.revisionOf({ resourceType: 'AccessPolicy', id: 'zz-allow' });
    await b.cluster.waitForWorkers(base, checkPayload(b.tokens.cached));
    await smokeCheck(b);
    await tokenScenarios(b);
    await dpopScenario(b);
    await httpScenarios(b);
    await responseCheckScenarios(b);
    await extAuthzScenarios(b);
    await proxyPostScenarios(b);
    await bundleScenarios(b);
    await latencyScenario(b);
    await scaleScenario(b);
    await policyScenarios(b);
    await propagationScenario(b);
    await revocationScenario(b);
    await coldStartAndMemory(b);
  } finally {
    await stopCluster(b.cluster);
    await stopAll();
  }
  for (const [name, m] of Object.entries(b.measurements)) b.windows[name] = m.windows;
  for (const dir of new Set([opts.profileDir, opts.gatewayProfileDir].filter(Boolean))) {
    // Measured windows (monotonic µs) for `bench/cpuprofile-top.mjs --window=<scenario>`.
    writeFileSync(join(dir, 'windows.json'), `${JSON.stringify(b.windows, null, 2)}\n`);
    log(`profiles and windows.json in ${dir}`);
  }
  return b;
}

let exitCode = 0;
try {
  const b = await main();
  const scenarios = Object.fromEntries(Object.entries(b.measurements).map(([name, m]) => [name, m.result()]));
  addRatios(scenarios);
  const report = {
    scenarios,
    propagation: b.propagation,
    revocation: b.revocation,
    coldStartMs: b.coldStartMs,
    rssMiB: b.rssMiB,
    curves: b.curves,
    scale: b.scale,
  };
  process.stdout.write(`\n${table(report)}\n\n`);
  if (b.curves) process.stdout.write(`${latencyTable(b.curves)}\n`);
  const env = {
    node: process.version,
    cpus: availableParallelism(),
    nats_server: natsServerVersion(),
    quick: opts.quick,
  };
  if (opts.only === undefined) {
    const path = opts.out ?? join(root, 'bench', 'results.json');
    writeFileSync(path, `${JSON.stringify(resultsJson({ env, ...report }), null, 2)}\n`);
    log(`wrote ${path}`);
  }
  if (b.curves && (opts.only === undefined || opts.out)) {
    const path = join(dirname(opts.out ?? join(root, 'bench', 'results.json')), 'latency.svg');
    writeLatencySvg(b.curves, path);
    log(`wrote ${path}`);
  }
  const failed = Object.entries(scenarios).filter(([, s]) => s.failures > 0);
  if (failed.length > 0) {
    log(`wrong or failed replies in: ${failed.map(([name]) => name).join(', ')}`);
    exitCode = 1;
  }
  logLoad('end');
  log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s${opts.quick ? ' (quick)' : ''}`);
} catch (err) {
  log(`FAILED: ${err?.stack ?? err}`);
  exitCode = 1;
}
process.exit(exitCode);
