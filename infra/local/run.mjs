#!/usr/bin/env node
// The local runner behind `npm start` (DESIGN §3): runs the whole cluster in the foreground —
// NATS with JetStream (one node, or `NATS_CLUSTER=3` nodes on loopback) and Redis unless
// NATS_URL / REDIS_URL are given, the config service, WORKERS workers and the gateway — prints
// where everything listens, and stops it all on Ctrl-C / SIGTERM. Plain Node, no dependencies.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary } from '../../packages/harness/dist/index.js';
import { LocalCluster } from './cluster.mjs';
import { createConsole, levelNumber } from './logs.mjs';
import { readSettings } from './settings.mjs';
import { createStateDir, reapStale } from './state.mjs';
import { describe, renderSummary } from './summary.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVICES = ['config', 'worker', 'gateway'];

/** Everything that must hold before anything starts, as one list of problems. */
function preflight(settings) {
  const problems = [];
  const missing = SERVICES.filter((s) => !existsSync(join(root, 'services', s, 'dist', 'main.js')));
  if (missing.length > 0) {
    problems.push(
      `not built: ${missing.map((s) => `services/${s}/dist/main.js`).join(', ')} — run \`npm start\` (it builds) or \`pnpm exec turbo run build\``,
    );
  }
  const binaries = {};
  if (!settings.natsUrl) {
    binaries.nats = findBinary('nats-server');
    if (!binaries.nats)
      problems.push('nats-server not found: install it (apt-get install nats-server) or set NATS_URL');
  }
  if (!settings.redisUrl) {
    binaries.redis = findBinary('redis-server');
    if (!binaries.redis)
      problems.push('redis-server not found: install it (apt-get install redis-server) or set REDIS_URL');
  }
  return { problems, binaries };
}

async function main() {
  const { settings, problems } = readSettings();
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: the runner is no turbo task; NO_COLOR is the no-color.org convention
  const color = settings.logFormat === 'pretty' && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const out = createConsole({ format: settings.logFormat, color, minLevel: levelNumber(settings.logLevel) });
  // A closed pipe on our stdout (e.g. `npm start | head`) must not crash the runner mid-shutdown.
  process.stdout.on('error', () => {});
  const checked = preflight(settings);
  problems.push(...checked.problems);
  if (problems.length > 0) {
    out.log(
      60,
      `cannot start:\n  - ${problems.join('\n  - ')}`,
      settings.logFormat === 'json' ? { problems } : {},
    );
    return 2;
  }
  reapStale(root, (msg, fields) => out.log(40, msg, fields));
  const stateDir = createStateDir(root);
  const cluster = new LocalCluster({ settings, out, root, stateDir, binaries: checked.binaries });

  let signals = 0;
  let firstSignalAt = 0;
  const onSignal = (signal) => {
    // Ctrl-C reaches us twice at once (the terminal signals the whole process group, and npm
    // forwards it too): only a second signal a moment later means "kill at once".
    if (signals > 0 && Date.now() - firstSignalAt < 1000) return;
    if (signals === 0) firstSignalAt = Date.now();
    signals += 1;
    if (signals > 1) {
      out.log(40, `${signal} again: killing everything now`);
      cluster.kill();
      process.exit(1);
    }
    out.log(30, `${signal}: stopping (again to kill at once)`);
    void cluster.stop(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onSignal);
  // A foreground program whose parent died (e.g. npm killed while `sh -c` sat between us) is
  // orphaned and would run forever: stop as if signalled.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent && !cluster.stopping) onSignal('parent exit');
  }, 1000).unref();
  // Whatever ends this process, no child may outlive it.
  process.on('exit', () => cluster.kill());

  out.log(30, 'starting', {
    nats: settings.natsUrl ? 'external' : `${settings.natsCluster} node(s)`,
    redis: settings.redisUrl ? 'external' : 'local',
    workers: settings.workers,
    state: stateDir,
  });
  try {
    await cluster.start();
  } catch (err) {
    if (!cluster.stopping) {
      out.log(60, `start-up failed: ${err instanceof Error ? err.message : String(err)}`);
      return cluster.stop(1);
    }
    return cluster.stopping;
  }
  if (cluster.stopping) return cluster.stopping;
  const facts = describe(cluster);
  if (settings.logFormat === 'json') out.record('cluster ready', facts);
  else out.text(renderSummary(facts, out.paint));
  return cluster.stopped;
}

main().then(
  // Explicit exit: every child is gone by now, and nothing left in the event loop may hold us.
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`[authz-local] ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
