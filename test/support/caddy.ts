import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { waitForPort } from './ports.js';

const execFileAsync = promisify(execFile);

const CADDY_PATHS = ['/usr/bin/caddy', '/usr/local/bin/caddy'];
const findCaddy = () => CADDY_PATHS.find((p) => existsSync(p));

/** The caddy binary, installing Debian's `caddy` when missing and root (as `npm test` does). */
export async function ensureCaddy(): Promise<{ binary: string } | { skip: string }> {
  const found = findCaddy();
  if (found) return { binary: found };
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get'))
    return {
      skip: 'caddy is not installed and cannot be installed here: apt-get install caddy to run these tests',
    };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['install', '-y', '--no-install-recommends', 'caddy'];
  try {
    await execFileAsync('apt-get', install, { env, timeout: 240_000 }).catch(async () => {
      await execFileAsync('apt-get', ['update'], { env, timeout: 240_000 });
      await execFileAsync('apt-get', install, { env, timeout: 240_000 });
    });
  } catch (err) {
    return { skip: `apt-get install caddy failed: ${(err as Error).message.split('\n')[0]}` };
  }
  const installed = findCaddy();
  return installed
    ? { binary: installed }
    : { skip: 'apt-get installed caddy, yet no caddy binary was found' };
}

/**
 * The README's Caddyfile on loopback ports. `route` keeps the written order: client-sent identity
 * headers are deleted first, then forward_auth copies the gateway's (Caddy orders forward_auth
 * before request_header otherwise, which would delete the answer's headers instead).
 */
export const readmeCaddyfile = (ports: { caddy: number; gateway: number; app: number }) => `{
  admin off
  auto_https off
}
http://127.0.0.1:${ports.caddy} {
  route {
    request_header -X-Authz-User
    request_header -X-Authz-Subject
    request_header -X-Authz-Policy
    request_header -X-Authz-Assertion
    forward_auth 127.0.0.1:${ports.gateway} {
      uri /_authz/forward
      header_up X-Forwarded-Proto {scheme}
      copy_headers X-Authz-User X-Authz-Subject X-Authz-Policy X-Authz-Assertion
    }
    reverse_proxy 127.0.0.1:${ports.app} {
      header_up X-Real-IP {remote_host}
      header_up -Forwarded
    }
  }
}
`;

/** A running Caddy started by {@link startCaddy}. */
export interface TestCaddy {
  process: ChildProcess;
  /** the tail of its log (stderr), for failure messages */
  errors(): string;
  /** SIGTERM, and waits for it to exit */
  stop(): Promise<void>;
}

/** Runs `caddy run` on the Caddyfile `file`, its state in `dir`, and waits until `port` accepts. */
export async function startCaddy(
  binary: string,
  file: string,
  dir: string,
  port: number,
): Promise<TestCaddy> {
  const child = spawn(binary, ['run', '--config', file, '--adapter', 'caddyfile'], {
    env: { PATH: process.env.PATH, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  // Read its log so a full pipe can never stall it.
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  await waitForPort(port, 10_000).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}; caddy said: ${log}`);
  });
  return {
    process: child,
    errors: () => log,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
