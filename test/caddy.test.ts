import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureCaddy,
  freePort,
  mintJwt,
  readmeCaddyfile,
  startCaddy,
  startCluster,
  type TestCaddy,
  type TestCluster,
} from '@authz/test-support';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';

// A real Caddy (Debian's package) with `forward_auth` in front of a real gateway, worker, config
// service, NATS and Redis, and a recording application behind it — the Caddyfile of the README.

const ISSUER = 'https://auth.example.com';
const SECRET = 'caddy-test-secret';
const token = (claims: Record<string, unknown> = {}) =>
  mintJwt({ key: SECRET, alg: 'HS256', claims: { iss: ISSUER, sub: 'some-user-id', ...claims } });

describe('Caddy forward_auth against a real cluster', () => {
  let cluster: TestCluster;
  let app: Server;
  let caddy: TestCaddy | undefined;
  let dir: string | undefined;
  let base: string;
  let skipReason: string | undefined;
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
      readmeCaddyfile({ caddy: caddyPort, gateway: Number(new URL(cluster.gatewayUrl).port), app: appPort }),
    );
    caddy = await startCaddy(found.binary, file, dir, caddyPort);
    base = `http://127.0.0.1:${caddyPort}`;
    const allowed = await token();
    const deadline = Date.now() + 10_000;
    while (
      (await fetch(`${base}/fhir/Patient`, { headers: { authorization: `Bearer ${allowed}` } })).status !==
      200
    ) {
      if (Date.now() > deadline)
        throw new Error(`the configuration never reached the worker; caddy said: ${caddy?.errors()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 300_000);

  afterAll(async () => {
    await caddy?.stop();
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
