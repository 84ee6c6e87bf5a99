#!/usr/bin/env node
// Makes a fresh clone runnable with only Node and npm: pnpm (without corepack), dependencies,
// the build, and the nats-server / redis-server binaries (apt-get, when missing and root).
// Idempotent and quick when everything is already in place. Plain Node, no dependencies.
//
//   node scripts/bootstrap.mjs          before `npm start`: servers only when no NATS_URL / REDIS_URL
//   node scripts/bootstrap.mjs --test   before `npm test`: both servers always (tests start their
//                                       own), and nginx and caddy for the forward-auth tests
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--test');
const windows = process.platform === 'win32';
const log = (msg) => process.stderr.write(`[bootstrap] ${msg}\n`);

class BootstrapError extends Error {}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: windows, ...opts });
  if (r.error) throw new BootstrapError(`${cmd} ${args.join(' ')} could not run: ${r.error.message}`);
  if (r.status !== 0)
    throw new BootstrapError(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** The first line `cmd --version` prints, or undefined when it does not run. */
function version(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', shell: windows, timeout: 30_000 });
  return r.status === 0 ? (r.stdout || r.stderr).trim().split('\n')[0] : undefined;
}

function checkNode() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20)
    throw new BootstrapError(`Node ${process.versions.node} is too old: Node 20 or newer is required`);
}

/**
 * pnpm ≥ 9 (the lockfile is v9): the one on PATH, else a copy installed with npm — globally when
 * allowed, otherwise into .local/tools. Corepack is never used.
 */
function ensurePnpm() {
  const usable = (v) => v !== undefined && Number(v.split('.')[0]) >= 9;
  if (usable(version('pnpm'))) return 'pnpm';
  const local = join(root, '.local', 'tools', 'node_modules', '.bin', windows ? 'pnpm.cmd' : 'pnpm');
  if (existsSync(local) && usable(version(local))) return local;
  log('pnpm ≥ 9 not found; installing pnpm@10 with npm (corepack is not used)');
  const global = spawnSync('npm', ['install', '-g', 'pnpm@10'], { stdio: 'inherit', shell: windows });
  if (global.status === 0 && usable(version('pnpm'))) return 'pnpm';
  log('a global install is not possible here; installing pnpm@10 into .local/tools');
  run('npm', [
    'install',
    '--prefix',
    join(root, '.local', 'tools'),
    '--no-save',
    '--no-audit',
    '--no-fund',
    'pnpm@10',
  ]);
  if (!usable(version(local)))
    throw new BootstrapError(`pnpm was installed into .local/tools but ${local} does not run`);
  return local;
}

/** Where a binary is: PATH, then the sbin directories Debian packages use (not on every PATH). */
function findBinary(name) {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/sbin',
    '/usr/local/sbin',
    '/usr/bin',
    '/usr/local/bin',
  ];
  return dirs.some((dir) => dir && existsSync(join(dir, name)));
}

/** Binaries the cluster or the tests run, with the Debian package and Homebrew formula providing each. */
const SERVERS = [
  { bin: 'nats-server', deb: 'nats-server', brew: 'nats-server', env: 'NATS_URL' },
  { bin: 'redis-server', deb: 'redis-server', brew: 'redis', env: 'REDIS_URL' },
  // Only the tests run nginx (forward-auth in front of the gateway); nginx-light has auth_request.
  { bin: 'nginx', deb: 'nginx-light', brew: 'nginx', testsOnly: true },
  // …and Caddy (forward_auth in front of the gateway); Debian's package.
  { bin: 'caddy', deb: 'caddy', brew: 'caddy', testsOnly: true },
];

function ensureServers() {
  // A server given by URL needs no local binary (the runner then starts none).
  const needed = SERVERS.filter(
    (s) => !findBinary(s.bin) && (forTests || (!s.testsOnly && !process.env[s.env])),
  );
  if (needed.length === 0) return;
  const debs = needed.map((s) => s.deb);
  const manual = `install ${needed.map((s) => s.bin).join(', ')} (Debian/Ubuntu: apt-get install ${debs.join(' ')}; macOS: brew install ${needed.map((s) => s.brew).join(' ')})`;
  const hint = forTests ? manual : `${manual}, or set NATS_URL / REDIS_URL`;
  if (process.getuid?.() !== 0 || !findBinary('apt-get')) {
    // Not fatal here: the runner and the test harness name what is missing when they need it.
    log(`missing ${needed.map((s) => s.bin).join(', ')}: ${hint}`);
    return;
  }
  log(`installing ${debs.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    run('apt-get', ['update', '-qq'], { env });
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...debs], { env });
  } catch (err) {
    log(`${err.message}; ${hint}`);
  }
}

/** Whether node_modules matches pnpm-lock.yaml (pnpm keeps a copy of the lockfile it installed). */
function dependenciesCurrent() {
  const installed = join(root, 'node_modules', '.pnpm', 'lock.yaml');
  if (!existsSync(installed) || !existsSync(join(root, 'node_modules', '.modules.yaml'))) return false;
  try {
    return readFileSync(installed, 'utf8') === readFileSync(join(root, 'pnpm-lock.yaml'), 'utf8');
  } catch {
    return false;
  }
}

function readdirSafe(dir) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Newest modification time of the files under `path` (0 when none). */
function newestMtime(path) {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSafe(dir)) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  if (existsSync(path) && statSync(path).isFile()) return statSync(path).mtimeMs;
  walk(path);
  return newest;
}

/** Packages whose build is missing or older than their sources or build settings. */
function staleBuilds() {
  const stale = [];
  for (const group of ['packages', 'services']) {
    for (const entry of readdirSafe(join(root, group))) {
      const pkg = join(root, group, entry.name);
      const manifest = join(pkg, 'package.json');
      if (!existsSync(manifest)) continue;
      const { scripts = {}, bin = {} } = JSON.parse(readFileSync(manifest, 'utf8'));
      if (!scripts.build) continue;
      const built = newestMtime(join(pkg, 'dist'));
      const inputs = Math.max(
        newestMtime(join(pkg, 'src')),
        newestMtime(manifest),
        newestMtime(join(pkg, 'tsconfig.json')),
      );
      // A service's entry point must exist even when something else in dist/ is newer.
      const entries = Object.values(typeof bin === 'string' ? { bin } : bin).map((p) => join(pkg, p));
      if (built === 0 || inputs > built || entries.some((p) => !existsSync(p)))
        stale.push(`${group}/${entry.name}`);
    }
  }
  return stale;
}

function main() {
  checkNode();
  ensureServers();
  // pnpm is looked up only when needed: starting it costs half a second.
  let pnpm;
  if (!dependenciesCurrent()) {
    pnpm = ensurePnpm();
    log('installing dependencies');
    run(pnpm, ['install', '--frozen-lockfile', '--prefer-offline']);
  }
  // Only when something is stale: turbo's cache makes a no-op build cheap, but skipping turbo
  // keeps `npm start` / `npm test` start-up well under a second on a warm tree.
  const stale = staleBuilds();
  if (stale.length > 0) {
    log(`building (${stale.join(', ')} changed)`);
    pnpm ??= ensurePnpm();
    run(pnpm, ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], {
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
    });
  }
}

try {
  main();
} catch (err) {
  log(err instanceof BootstrapError ? err.message : (err?.stack ?? String(err)));
  process.exit(1);
}
