import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitForPort } from './ports.js';

const execFileAsync = promisify(execFile);

const NGINX_PATHS = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];
const findNginx = () => NGINX_PATHS.find((p) => existsSync(p));

/**
 * The nginx binary, installing Debian's `nginx-light` (it has auth_request and ssl) when it is
 * missing and the tests run as root — as `npm test`'s bootstrap does. Anything else is a reason
 * to skip, said out loud: tests never pass silently without nginx.
 */
export async function ensureNginx(): Promise<{ binary: string } | { skip: string }> {
  const found = findNginx();
  if (found) return { binary: found };
  if (process.getuid?.() !== 0) {
    return {
      skip: 'nginx is not installed and the tests are not running as root: apt-get install nginx-light to run them',
    };
  }
  if (!existsSync('/usr/bin/apt-get'))
    return { skip: 'nginx is not installed and there is no apt-get to install it' };
  const apt = (args: string[]) =>
    execFileAsync('apt-get', args, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 240_000,
    });
  const install = ['install', '-y', '--no-install-recommends', 'nginx-light'];
  try {
    await apt(install).catch(async () => {
      // Fresh machines have no package lists yet.
      await apt(['update']);
      await apt(install);
    });
  } catch (err) {
    return {
      skip: `nginx is not installed and apt-get install nginx-light failed: ${(err as Error).message.split('\n')[0]}`,
    };
  }
  const installed = findNginx();
  return installed
    ? { binary: installed }
    : { skip: 'apt-get installed nginx-light, yet no nginx binary was found' };
}

/** A running nginx started by {@link startNginx}. */
export interface TestNginx {
  process: ChildProcess;
  /** the tail of its error log (stderr), for failure messages */
  errors(): string;
  /** graceful stop (SIGQUIT), SIGKILL after 5 s */
  stop(): Promise<void>;
}

/**
 * Tests `dir/nginx.conf` (`nginx -t`), starts it in the foreground with `dir` as its prefix and
 * waits until `port` accepts connections. The configuration must write its pid to `dir/nginx.pid`.
 */
export async function startNginx(binary: string, dir: string, port: number): Promise<TestNginx> {
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'];
  execFileSync(binary, [...args, '-t'], { stdio: 'pipe' });
  const child = spawn(binary, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  // Read its error log so a full pipe can never stall it.
  child.stderr?.on('data', (d: Buffer) => {
    errors = (errors + d.toString()).slice(-4000);
  });
  await waitForPort(port, 10_000).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}; nginx said: ${errors}`);
  });
  return {
    process: child,
    errors: () => errors,
    stop: async () => {
      const pidFile = join(dir, 'nginx.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : child.pid;
      if (child.exitCode !== null || child.signalCode !== null || !pid || pid !== child.pid) return;
      await new Promise<void>((done) => {
        const timer = setTimeout(() => process.kill(pid, 'SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        process.kill(pid, 'SIGQUIT');
      });
    },
  };
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * infra/nginx/nginx.conf — the configuration users deploy — with only Docker's DNS names and ports
 * swapped for loopback ones, its includes read from the repository and its pid, log and temp
 * files in `dir`. Throws when a swap did not happen, so no test runs another configuration.
 */
export function infraNginxConf(dir: string, ports: { nginx: number; gateway: number; app: number }): string {
  const conf = readFileSync(join(repoRoot, 'infra/nginx/nginx.conf'), 'utf8');
  const local = conf
    .replace(/^\s*resolver .*$/m, '')
    .replace(/server gateway:8080 resolve;/, `server 127.0.0.1:${ports.gateway};`)
    .replace(/server upstream:8000 resolve;/, `server 127.0.0.1:${ports.app};`)
    .replace(/listen 8080;/, `listen 127.0.0.1:${ports.nginx};`)
    .replace(/include \/etc\/nginx\//g, `include ${repoRoot}infra/nginx/`)
    .replace(/^pid .*$/m, `pid ${dir}/nginx.pid;`)
    .replace(/access_log \/dev\/stdout authz;/, `access_log ${dir}/access.log authz;`)
    .replace(
      /^http \{$/m,
      [
        'http {',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
      ].join('\n'),
    );
  for (const gone of ['gateway:8080', 'upstream:8000', '/etc/nginx/', 'resolver ']) {
    if (local.includes(gone)) throw new Error(`infra/nginx/nginx.conf changed: ${gone} was not swapped`);
  }
  return local;
}
