// Runs bench/child/http-load.mjs (autocannon) in its own process and returns its result.
import { root, spawnOwned } from './procs.mjs';

/** HTTP load against `url` from a separate process; see child/http-load.mjs. */
export async function httpLoad(options) {
  const proc = spawnOwned(
    'http-load',
    process.execPath,
    [`${root}bench/child/http-load.mjs`, JSON.stringify(options)],
    {
      inheritEnv: true,
    },
  );
  const code = await proc.exited;
  const line = proc.lines.find((l) => l.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`http load failed (exit ${code}): ${proc.stderr.slice(-2000)}`);
  return JSON.parse(line.slice('RESULT '.length));
}
