import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { waitForTcp } from './ports.js';

/** Calls `onLine` with each complete line `stream` carries (without its `\n`). */
export function onLines(stream: Readable | null | undefined, onLine: (line: string) => void): void {
  let buffered = '';
  stream?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf('\n');
      onLine(line);
    }
  });
}

/**
 * Spawns a server (nats-server, redis-server) and resolves once it accepts connections on
 * `port`. Rejects — with the tail of its stderr — when it exits first or does not listen within
 * `timeoutMs`; the process is then killed.
 */
export async function spawnListening(
  name: string,
  command: string,
  args: readonly string[],
  port: number,
  timeoutMs = 15_000,
): Promise<ChildProcess> {
  const proc = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  try {
    await Promise.race([
      waitForTcp(port, { timeoutMs }),
      new Promise((_, reject) =>
        proc.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${stderr}`))),
      ),
    ]);
    return proc;
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
}
