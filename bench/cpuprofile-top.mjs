#!/usr/bin/env node
// Top self-time functions of V8 .cpuprofile files (from `node --cpu-prof`), merged.
// usage: node bench/cpuprofile-top.mjs <file-or-dir>... [--top=30] [--window=<scenario>]
// --window keeps only the samples taken during that scenario's measured window, read from the
// windows.json `bench/run.mjs --profile-worker=DIR` writes beside the profiles.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 30);
const files = args
  .filter((a) => !a.startsWith('--'))
  .flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith('.cpuprofile'))
          .map((f) => join(p, f))
      : [p],
  );
if (files.length === 0) {
  process.stderr.write(
    'usage: node bench/cpuprofile-top.mjs <file-or-dir>... [--top=30] [--window=<scenario>]\n',
  );
  process.exit(2);
}

const windowName = args.find((a) => a.startsWith('--window='))?.slice(9);
const windowOf = (file) => {
  if (!windowName) return [[Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]];
  const windows = JSON.parse(readFileSync(join(dirname(file), 'windows.json'), 'utf8'));
  if (!windows[windowName]) throw new Error(`no window ${windowName} in ${dirname(file)}/windows.json`);
  return windows[windowName];
};

const selfUs = new Map();
let totalUs = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Each sample is charged the interval until the next one (the last gets the mean).
  const { samples, timeDeltas } = profile;
  // One [start, end] per measured round.
  const windows = windowOf(file);
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i];
    if (!windows.some(([from, to]) => at >= from && at <= to)) continue;
    const dt = timeDeltas[i + 1] ?? (profile.endTime - profile.startTime) / samples.length;
    const node = byId.get(samples[i]);
    const key = label(node.callFrame);
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    totalUs += dt;
  }
}

function label({ functionName, url, lineNumber }) {
  const name = functionName || '(anonymous)';
  if (!url) return name;
  let where = url.startsWith('file://') ? relative(root, fileURLToPath(url)) : url;
  where = where.replace(/^node_modules\/\.pnpm\/[^/]+\/node_modules\//, '');
  return `${name} ${where}:${lineNumber + 1}`;
}

const idle = ['(idle)', '(program)', '(garbage collector)'];
const busyUs =
  totalUs - idle.reduce((sum, k) => sum + (selfUs.get(k) ?? 0), 0) + (selfUs.get('(garbage collector)') ?? 0);
process.stdout.write(
  `${files.length} profile(s), ${(totalUs / 1e6).toFixed(1)} s sampled, ${(busyUs / 1e6).toFixed(1)} s busy (incl. GC)\n`,
);
process.stdout.write('  self%  of busy  self ms  function\n');
const rows = [...selfUs.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [key, us] of rows) {
  const pctBusy = idle.slice(0, 2).includes(key)
    ? '     -'
    : `${((us / busyUs) * 100).toFixed(1).padStart(5)}%`;
  process.stdout.write(
    `${((us / totalUs) * 100).toFixed(1).padStart(6)}%  ${pctBusy}  ${(us / 1000).toFixed(0).padStart(7)}  ${key}\n`,
  );
}
