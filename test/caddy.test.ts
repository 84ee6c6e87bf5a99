import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, mintJwt, startCluster, type TestCluster, waitForPort } from '@authz/test-support';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';

const execFileAsync = promisify(execFile);

// A real Caddy (Debian's package) with `forward_auth` in front of a real gateway, worker, config
// service, NATS and Redis, and a recording application behind it — the Caddyfile of the README.

const CADDY_PATHS = ['/usr/bin/caddy', '/usr/local/bin/caddy'];
const findCaddy = () => CADDY_PATHS.find((p) => existsSync(p));

/** The caddy binary, installing Debian's `caddy` when missing and root (as `npm test` does). */
async function ensureCaddy(): Promise<{ binary: string } | { skip: string }> {
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
 * The README's Caddyfile. `route` keeps the written order: client-sent identity headers are
 * deleted first, then forward_auth copies the gateway's (Caddy orders forward_auth before
 * request_header otherwise, which would delete the answer's headers instead).
 */
const caddyfile = (ports: { caddy: number; gateway: number; app: number }) => `{
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
    reverse_proxy 127.0.0.1:${ports.app}
  }
}
`;

const ISSUER = 'https://auth.example.com';
const SECRET = 'caddy-test-secret';
const token = (claims: Record<string, unknown> = {}) =>
  mintJwt({ key: SECRET, alg: 'HS256', claims: { iss: ISSUER, sub: 'some-user-id', ...claims } });

describe('Caddy forward_auth against a real cluster', () => {
  let cluster: TestCluster;
  let app: Server;
  let caddy: ChildProcess | undefined;
  let dir: string | undefined;
  let base: string;
  let skipReason: string | undefined;
  let caddyLog = '';
  const seen: Array<{ url?: string; headers: IncomingHttpHeaders }> = [];
  const needCaddy = (ctx: TestContext) => {
    if (skipReason) ctx.skip(skipReason);
  };

  beforeAll(async () => {
    const found = await ensureCaddy();
    if ('skip' in found) {
      skipReason = found.skip;
      console.warn(`caddy tests skipped: ${skipReason}`);
      return;
    }
    dir = mkdtempSync(join(tmpdir(), 'authz-caddy-'));
    writeFileSync(
      join(dir, 'assertion.pem'),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const appPort = await freePort();
    app = createServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('from the application');
    });
    await new Promise<void>((r) => app.listen(appPort, '127.0.0.1', () => r()));
    cluster = await startCluster({
      workers: 1,
      gatewayEnv: { GATEWAY_ASSERTION_KEY_FILE: join(dir, 'assertion.pem') },
    });
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/external-auth-server',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: ISSUER, secret: SECRET } },
      ],
      [
        '/AccessPolicy/issuer-reads',
        {
          resourceType: 'AccessPolicy',
          engine: 'json-schema',
          schema: {
            required: ['jwt', 'request-method'],
            properties: {
              jwt: { required: ['iss'], properties: { iss: { const: ISSUER } } },
              'request-method': { const: 'get' },
            },
          },
        },
      ],
    ];
    for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);

    const caddyPort = await freePort();
    const file = join(dir, 'Caddyfile');
    writeFileSync(
      file,
      caddyfile({ caddy: caddyPort, gateway: Number(new URL(cluster.gatewayUrl).port), app: appPort }),
    );
    caddy = spawn(found.binary, ['run', '--config', file, '--adapter', 'caddyfile'], {
      env: { PATH: process.env.PATH, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    caddy.stderr?.on('data', (d: Buffer) => {
      caddyLog = (caddyLog + d.toString()).slice(-4000);
    });
    await waitForPort(caddyPort, 10_000).catch((err: Error) => {
      throw new Error(`${err.message}; caddy said: ${caddyLog}`);
    });
    base = `http://127.0.0.1:${caddyPort}`;
    const allowed = await token();
    const deadline = Date.now() + 10_000;
    while (
      (await fetch(`${base}/fhir/Patient`, { headers: { authorization: `Bearer ${allowed}` } })).status !==
      200
    ) {
      if (Date.now() > deadline)
        throw new Error(`the configuration never reached the worker; caddy said: ${caddyLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 300_000);

  afterAll(async () => {
    if (caddy && caddy.exitCode === null && caddy.signalCode === null) {
      const exited = new Promise((r) => caddy!.once('exit', r));
      caddy.kill('SIGTERM');
      await exited;
    }
    await cluster?.stop();
    app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes an allowed request with the identity headers and a verifiable assertion, never client-sent copies', async (ctx) => {
    needCaddy(ctx);
    seen.length = 0;
    const res = await fetch(`${base}/fhir/Patient?name=smith`, {
      headers: {
        authorization: `Bearer ${await token()}`,
        'x-authz-user': 'admin',
        'x-authz-assertion': 'forged',
      },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('from the application');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/fhir/Patient?name=smith');
    expect(seen[0]!.headers['x-authz-user']).toBe('some-user-id');
    expect(seen[0]!.headers['x-authz-policy']).toBe('issuer-reads');
    const jwks = createRemoteJWKSet(new URL(`${cluster.gatewayUrl}/_authz/jwks.json`));
    const { payload } = await jwtVerify(seen[0]!.headers['x-authz-assertion'] as string, jwks);
    expect(payload).toMatchObject({
      sub: 'some-user-id',
      htm: 'GET',
      htu: `http://${new URL(base).host}/fhir/Patient`,
    });
  });

  it('answers 401 with the gateway’s challenge and OperationOutcome, 403 forbidden; the application never sees them', async (ctx) => {
    needCaddy(ctx);
    seen.length = 0;
    const unauthorized = await fetch(`${base}/fhir/Patient`, { headers: { 'x-authz-user': 'admin' } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="authz", error="invalid_token"/,
    );
    expect(((await unauthorized.json()) as { issue: Array<{ code: string }> }).issue[0]!.code).toBe('login');
    const forbidden = await fetch(`${base}/fhir/Patient`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${await token()}` },
    });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { issue: Array<{ code: string }> }).issue[0]!.code).toBe('forbidden');
    expect(seen).toEqual([]);
  });

  it('answers 503, never the application, when no worker can decide', async (ctx) => {
    needCaddy(ctx);
    seen.length = 0;
    const worker = cluster.workers[0]!;
    await worker.stop('SIGKILL');
    const res = await fetch(`${base}/fhir/Patient`, {
      headers: { authorization: `Bearer ${await token()}` },
    });
    expect(res.status).toBe(503);
    expect(seen).toEqual([]);
  });
});
