#!/usr/bin/env node
// Makes a fresh clone runnable with only Node and npm: pnpm (without corepack), dependencies,
// the build, and the nats-server / redis-server binaries (apt-get, when missing and root).
// Idempotent and quick when everything is already in place.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => process.stderr.write(`[bootstrap] ${msg}\n`);
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
};
const has = (cmd, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

function ensurePnpm() {
  if (has('pnpm')) return ['pnpm'];
  log('pnpm not found; installing pnpm@10 with npm (corepack is not used)');
  const global = spawnSync('npm', ['install', '-g', 'pnpm@10'], { stdio: 'inherit' });
  if (global.status === 0 && has('pnpm')) return ['pnpm'];
  log('global install not possible; using npx pnpm@10');
  return ['npx', '--yes', 'pnpm@10'];
}

function findBinary(name) {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']) {
    if (existsSync(join(dir, name))) return true;
  }
  return has(name, ['--version']);
}

function ensureServers() {
  const missing = [
    ['nats-server', 'nats-server'],
    ['redis-server', 'redis-server'],
  ].filter(([bin]) => !findBinary(bin));
  // Tests always start their own servers; `npm start` needs none when given NATS_URL / REDIS_URL.
  const forTests = process.argv.includes('--test');
  const needed = missing.filter(([bin]) =>
    forTests || (bin === 'nats-server' ? !process.env.NATS_URL : !process.env.REDIS_URL),
  );
  if (needed.length === 0) return;
  const pkgs = needed.map(([, pkg]) => pkg);
  if (process.getuid?.() !== 0) {
    log(`missing ${pkgs.join(', ')}; install them (apt-get install ${pkgs.join(' ')}) or set NATS_URL / REDIS_URL`);
    return;
  }
  log(`installing ${pkgs.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env });
}

function newestMtime(dir) {
  let newest = 0;
  const walk = (d) => {
    for (const entry of readdirSafe(d)) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return newest;
}

function readdirSafe(d) {
  try {
    return readdirSync(d, { withFileTypes: true });
  } catch {
    return [];
  }
}

async function main() {
  ensureServers();
  const pnpm = ensurePnpm();
  const [cmd, ...pre] = pnpm;
  const lock = join(root, 'pnpm-lock.yaml');
  const marker = join(root, 'node_modules', '.modules.yaml');
  if (!existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs) {
    log('installing dependencies');
    run(cmd, [...pre, 'install', '--frozen-lockfile', '--prefer-offline']);
  }
  // Build only when a source file is newer than its build: turbo's cache makes this cheap too,
  // but skipping turbo entirely keeps `npm test` start-up under a second on a warm tree.
  const stale = ['packages', 'services'].some((group) =>
    readdirSafe(join(root, group)).some((entry) => {
      const pkg = join(root, group, entry.name);
      if (!existsSync(join(pkg, 'package.json'))) return false;
      const built = join(pkg, 'dist', '.tsbuildinfo');
      return !existsSync(built) || newestMtime(join(pkg, 'src')) > statSync(built).mtimeMs;
    }),
  );
  if (stale) {
    log('building');
    run(cmd, [...pre, 'exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], {
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
    });
  }
}

main().catch((err) => {
  log(err.message);
  process.exit(1);
});
