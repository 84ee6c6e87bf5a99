import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet, headless, sandbox-less (root in a container) Chromium that never phones home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * The Chromium to drive, installing Debian's `chromium` package with apt-get when it is missing
 * and this process may (root, apt-get present). Never downloads a browser build of its own.
 * Resolves to `{ skip }` with a sentence saying why when there is no browser to be had.
 */
export function ensureChromium(): { path: string } | { skip: string } {
  if (existsSync(CHROMIUM_PATH)) return { path: CHROMIUM_PATH };
  const root = process.getuid?.() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    return {
      skip: `${CHROMIUM_PATH} is missing and cannot be installed here (${root ? 'no apt-get' : 'not root'}); install Debian's chromium package to run the console end-to-end test`,
    };
  }
  process.stderr.write('[console e2e] installing Debian chromium with apt-get (once)\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const options = { env, encoding: 'utf8' as const, timeout: 15 * 60_000 };
  const update = spawnSync('apt-get', ['update', '-qq'], options);
  const install = spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], options);
  if (existsSync(CHROMIUM_PATH)) return { path: CHROMIUM_PATH };
  const output = `${update.stderr ?? ''}${install.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
  return {
    skip: `apt-get install chromium did not provide ${CHROMIUM_PATH} (exit ${install.status}): ${output}`,
  };
}
