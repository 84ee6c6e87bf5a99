import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  mintJwt,
  type ServiceProcess,
  startCluster,
  startService,
  type TestCluster,
} from '@authz/test-support';
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The signed identity for the upstream (DESIGN §14): a real gateway in proxy mode with an RSA
// key file, a second gateway sharing that file, and a recording upstream that verifies what
// it receives the way an upstream FHIR server would — against /_authz/jwks.json.

const ISSUER = 'https://idp.assertion.test';
const SECRET = 'assertion-test-secret';
const mint = (claims: Record<string, unknown>) =>
  mintJwt({ key: SECRET, alg: 'HS256', claims: { iss: ISSUER, ...claims } });

describe('signed identity assertion (X-Authz-Assertion) against a real cluster and upstream', () => {
  let cluster: TestCluster;
  let upstream: Server;
  let second: ServiceProcess | undefined;
  let secondUrl: string;
  let dir: string;
  let alice: string;
  const seen: Array<{ method?: string; url?: string; headers: IncomingHttpHeaders }> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'authz-assertion-'));
    const keyFile = join(dir, 'gateway-key.pem');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const upstreamPort = await freePort();
    upstream = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream');
    });
    await new Promise<void>((r) => upstream.listen(upstreamPort, '127.0.0.1', () => r()));
    const assertionEnv = {
      UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
      GATEWAY_ASSERTION_KEY_FILE: keyFile,
      GATEWAY_ASSERTION_ISSUER: 'https://gateway.example.com',
    };
    cluster = await startCluster({ workers: 1, gatewayEnv: assertionEnv });
    const secondPort = await freePort();
    second = await startService('gateway', {
      ...cluster.env,
      ...assertionEnv,
      GATEWAY_PORT: String(secondPort),
    });
    secondUrl = `http://127.0.0.1:${secondPort}`;
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/idp',
        {
          resourceType: 'TokenIntrospector',
          type: 'jwt',
          jwt: { iss: ISSUER, secret: SECRET },
        },
      ],
      ['/User/alice', { resourceType: 'User' }],
      [
        '/AccessPolicy/alice-all',
        {
          resourceType: 'AccessPolicy',
          engine: 'json-schema',
          schema: {
            required: ['jwt'],
            properties: { jwt: { required: ['sub'], properties: { sub: { const: 'alice' } } } },
          },
        },
      ],
    ];
    for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);
    alice = await mint({ sub: 'alice', azp: 'assertion-app' });
    const deadline = Date.now() + 10_000;
    while (
      (await fetch(`${cluster.gatewayUrl}/fhir/Patient`, { headers: { authorization: `Bearer ${alice}` } }))
        .status !== 200
    ) {
      if (Date.now() > deadline) throw new Error('the configuration never reached the worker');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    await second?.stop();
    await cluster?.stop();
    upstream?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the upstream receives an assertion it verifies against /_authz/jwks.json, for exactly the request it serves', async () => {
    seen.length = 0;
    const res = await fetch(`${cluster.gatewayUrl}/fhir/Patient?name=smith`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${alice}`, 'x-forwarded-proto': 'https' },
    });
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
    const received = seen[0]!;
    const jwks = createRemoteJWKSet(new URL(`${cluster.gatewayUrl}/_authz/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(
      received.headers['x-authz-assertion'] as string,
      jwks,
      {
        issuer: 'https://gateway.example.com',
        maxTokenAge: 60,
      },
    );
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.aud).toBeUndefined();
    expect(payload.sub).toBe('alice');
    expect(payload.htm).toBe(received.method);
    const host = received.headers['x-forwarded-host'];
    // The test connects from 127.0.0.1, a trusted proxy by default (DESIGN §10): its
    // X-Forwarded-Proto is believed, and the upstream is told the same scheme the assertion names.
    expect(received.headers['x-forwarded-proto']).toBe('https');
    expect(payload.htu).toBe(`https://${host}${received.url!.split('?')[0]}`);
    expect(payload.authz).toEqual({ policy: 'alice-all', introspector: 'idp', client: 'assertion-app' });
  });

  it('a client-sent X-Authz-Assertion never reaches the upstream, allowed or not', async () => {
    seen.length = 0;
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJyb290In0.';
    const allowed = await fetch(`${cluster.gatewayUrl}/fhir/Patient`, {
      headers: { authorization: `Bearer ${alice}`, 'x-authz-assertion': forged },
    });
    expect(allowed.status).toBe(200);
    expect(seen[0]!.headers['x-authz-assertion']).not.toBe(forged);
    expect(seen[0]!.headers['x-authz-assertion']).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    const anonymous = await fetch(`${cluster.gatewayUrl}/fhir/Patient`, {
      headers: { 'x-authz-assertion': forged },
    });
    expect(anonymous.status).toBe(401);
    expect(seen).toHaveLength(1);
  });

  it('two gateways sharing the key file publish the same key set, and it verifies both', async () => {
    const first = (await (await fetch(`${cluster.gatewayUrl}/_authz/jwks.json`)).json()) as JSONWebKeySet;
    const other = (await (await fetch(`${secondUrl}/_authz/jwks.json`)).json()) as JSONWebKeySet;
    expect(other).toEqual(first);
    expect(first.keys).toHaveLength(1);
    expect(first.keys[0]).not.toHaveProperty('d');
    const jwks = createLocalJWKSet(first);
    for (const base of [cluster.gatewayUrl, secondUrl]) {
      seen.length = 0;
      expect(
        (await fetch(`${base}/fhir/Patient`, { headers: { authorization: `Bearer ${alice}` } })).status,
      ).toBe(200);
      const { protectedHeader } = await jwtVerify(seen[0]!.headers['x-authz-assertion'] as string, jwks);
      expect(protectedHeader.kid).toBe(first.keys[0]!.kid);
    }
  });

  it('a gateway without a key file signs nothing and says so at /_authz/jwks.json', async () => {
    const port = await freePort();
    const plain = await startService('gateway', { ...cluster.env, GATEWAY_PORT: String(port) });
    try {
      const none = await fetch(`http://127.0.0.1:${port}/_authz/jwks.json`);
      expect(none.status).toBe(404);
      expect(await none.text()).toContain('GATEWAY_ASSERTION_KEY_FILE');
    } finally {
      await plain.stop();
    }
  });
});
