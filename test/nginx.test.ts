import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureNginx,
  freePort,
  infraNginxConf,
  mintJwt,
  startCluster,
  type TestCluster,
  waitForPort,
} from '@authz/test-support';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';

// A real nginx (the Debian package) runs infra/nginx/nginx.conf — only Docker's DNS names and
// ports swapped for loopback ones — in front of a real gateway, worker, config service, NATS
// and Redis, with a recording upstream behind it.

const ISSUER = 'https://auth.example.com';
const SECRET = 'nginx-test-secret';
const token = (claims: Record<string, unknown> = {}) =>
  mintJwt({ key: SECRET, alg: 'HS256', claims: { iss: ISSUER, sub: 'some-user-id', ...claims } });

describe('nginx forward-auth (infra/nginx) against a real cluster', () => {
  let cluster: TestCluster;
  let app: Server;
  let nginx: ChildProcess;
  let dir: string;
  let keyDir: string | undefined;
  let base: string;
  let skipReason: string | undefined;
  let nginxErrors = '';
  const seen: Array<{ method?: string; url?: string; headers: IncomingHttpHeaders }> = [];
  /** Skips the calling test, with the reason, when nginx is not there. */
  const needNginx = (ctx: TestContext) => {
    if (skipReason) ctx.skip(skipReason);
  };

  beforeAll(async () => {
    const nginxFound = await ensureNginx();
    if ('skip' in nginxFound) {
      skipReason = nginxFound.skip;
      console.warn(`nginx tests skipped: ${skipReason}`);
      return;
    }
    const nginxBinary = nginxFound.binary;
    const appPort = await freePort();
    app = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('from the application');
    });
    await new Promise<void>((r) => app.listen(appPort, '127.0.0.1', () => r()));
    // The gateway signs assertions: nginx passes them on with auth_request_set (infra/nginx).
    keyDir = mkdtempSync(join(tmpdir(), 'authz-nginx-key-'));
    writeFileSync(
      join(keyDir, 'assertion.pem'),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    cluster = await startCluster({
      workers: 1,
      gatewayEnv: { GATEWAY_ASSERTION_KEY_FILE: join(keyDir, 'assertion.pem') },
    });
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/external-auth-server',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: ISSUER, secret: SECRET } },
      ],
      ['/User/some-user-id', { resourceType: 'User' }],
      // Reads by a token of the issuer are allowed; anything else by it is forbidden (403).
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

    dir = mkdtempSync(join(tmpdir(), 'authz-nginx-'));
    const nginxPort = await freePort();
    const gatewayPort = Number(new URL(cluster.gatewayUrl).port);
    writeFileSync(
      join(dir, 'nginx.conf'),
      infraNginxConf(dir, { nginx: nginxPort, gateway: gatewayPort, app: appPort }),
    );
    const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'];
    execFileSync(nginxBinary, [...args, '-t'], { stdio: 'pipe' });
    nginx = spawn(nginxBinary, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Read its error log (stderr) so a full pipe can never stall it; kept for failure messages.
    nginx.stderr?.on('data', (d: Buffer) => {
      nginxErrors = (nginxErrors + d.toString()).slice(-4000);
    });
    await waitForPort(nginxPort, 10_000).catch((err: Error) => {
      throw new Error(`${err.message}; nginx said: ${nginxErrors}`);
    });
    base = `http://127.0.0.1:${nginxPort}`;

    // The worker applies the configuration from its KV watch; wait until it decides with it.
    const allowed = await token();
    const deadline = Date.now() + 10_000;
    while (
      (await fetch(`${base}/fhir/Patient`, { headers: { authorization: `Bearer ${allowed}` } })).status !==
      200
    ) {
      if (Date.now() > deadline) throw new Error('the configuration never reached the worker');
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 300_000); // generous: the first run on a fresh machine may install nginx

  afterAll(async () => {
    // The master's pid, as nginx wrote it: a graceful stop (SIGQUIT), SIGKILL if it lingers.
    const pid =
      dir && existsSync(join(dir, 'nginx.pid'))
        ? Number(readFileSync(join(dir, 'nginx.pid'), 'utf8'))
        : nginx?.pid;
    if (nginx && nginx.exitCode === null && nginx.signalCode === null && pid) {
      expect(pid).toBe(nginx.pid);
      await new Promise<void>((done) => {
        const timer = setTimeout(() => process.kill(pid, 'SIGKILL'), 5000);
        nginx.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        process.kill(pid, 'SIGQUIT');
      });
    }
    await cluster?.stop();
    app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  it('passes an allowed request to the application with the identity headers, dropping client-sent copies', async (ctx) => {
    needNginx(ctx);
    seen.length = 0;
    const res = await fetch(`${base}/fhir/Patient?name=smith`, {
      headers: {
        authorization: `Bearer ${await token()}`,
        'x-authz-user': 'admin',
        'x-authz-policy': 'forged',
        'x-authz-assertion': 'forged',
      },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('from the application');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/fhir/Patient?name=smith');
    expect(seen[0]!.headers['x-authz-user']).toBe('some-user-id');
    expect(seen[0]!.headers['x-authz-subject']).toBe('some-user-id');
    expect(seen[0]!.headers['x-authz-policy']).toBe('issuer-reads');
    expect(seen[0]!.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    const jwks = createRemoteJWKSet(new URL(`${cluster.gatewayUrl}/_authz/jwks.json`));
    const { payload } = await jwtVerify(seen[0]!.headers['x-authz-assertion'] as string, jwks);
    // htu is the URL the client addressed: authz.conf forwards X-Forwarded-Host as $http_host,
    // with the port (DESIGN §13, as a DPoP proof's htu), while the application's Host is $host.
    expect(payload).toMatchObject({
      sub: 'some-user-id',
      htm: 'GET',
      htu: `http://${new URL(base).host}/fhir/Patient`,
    });
    expect(seen[0]!.headers.host).toBe(new URL(base).hostname);
  });

  it('answers 401 with the gateway’s Bearer challenge and a login OperationOutcome when no token is sent', async (ctx) => {
    needNginx(ctx);
    seen.length = 0;
    const res = await fetch(`${base}/fhir/Patient`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="authz"/);
    expect(res.headers.get('content-type')).toBe('application/fhir+json');
    const body = (await res.json()) as { resourceType: string; issue: Array<{ code: string }> };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]!.code).toBe('login');
    expect(seen).toEqual([]);
  });

  it('answers 401 with error="invalid_token" for a token with a wrong signature', async (ctx) => {
    needNginx(ctx);
    const forged = await mintJwt({
      key: 'not-the-secret',
      alg: 'HS256',
      claims: { iss: ISSUER, sub: 'some-user-id' },
    });
    const res = await fetch(`${base}/fhir/Patient`, { headers: { authorization: `Bearer ${forged}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="authz", error="invalid_token", error_description="[^"]+"$/,
    );
    expect(res.headers.get('www-authenticate')?.match(/Bearer/g)).toHaveLength(1);
  });

  it('answers 403 with a forbidden OperationOutcome when the token is valid but no policy allows the request', async (ctx) => {
    needNginx(ctx);
    seen.length = 0;
    const res = await fetch(`${base}/fhir/Patient/1`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${await token()}` },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/fhir+json');
    expect(((await res.json()) as { issue: Array<{ code: string }> }).issue[0]!.code).toBe('forbidden');
    expect(seen).toEqual([]);
  });

  it('keeps the gateway’s endpoints unreachable from outside', async (ctx) => {
    needNginx(ctx);
    for (const path of ['/_authz/forward', '/_authz/metrics', '/_authz/healthz']) {
      const res = await fetch(`${base}${path}`, {
        headers: { 'x-original-uri': '/fhir/Patient', 'x-original-method': 'GET' },
      });
      expect(res.status, path).toBe(404);
    }
  });

  it('answers 503 with Retry-After, never the application, when the gateway is down', async (ctx) => {
    needNginx(ctx);
    await cluster.gateway!.stop('SIGKILL');
    seen.length = 0;
    const res = await fetch(`${base}/fhir/Patient`, {
      headers: { authorization: `Bearer ${await token()}` },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { issue: Array<{ code: string }> }).issue[0]!.code).toBe('transient');
    expect(seen).toEqual([]);
  });
});
