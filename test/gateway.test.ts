import { createServer, type Server } from 'node:http';
import {
  freePort,
  type ServiceProcess,
  startCluster,
  startService,
  type TestCluster,
} from '@authz/test-support';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const secret = new TextEncoder().encode('gateway-secret');
const now = () => Math.floor(Date.now() / 1000);
const mint = (claims: Record<string, unknown>) =>
  new SignJWT({ iss: 'https://idp.test', exp: now() + 600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(secret);

describe('gateway: reverse proxy and forward-auth (real cluster, real upstream)', () => {
  let cluster: TestCluster;
  let upstream: Server;
  let seen: Array<{ url?: string; headers: Record<string, unknown>; body: string }> = [];
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    const upstreamPort = await freePort();
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ url: req.url, headers: req.headers, body });
        res
          .writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' })
          .end(`upstream saw ${req.method} ${req.url}`);
      });
    });
    await new Promise<void>((r) => upstream.listen(upstreamPort, '127.0.0.1', () => r()));
    cluster = await startCluster({
      workers: 1,
      gatewayEnv: { UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}` },
    });
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/idp',
        {
          resourceType: 'TokenIntrospector',
          type: 'jwt',
          jwt: { iss: 'https://idp.test', secret: 'gateway-secret' },
        },
      ],
      // alice may read Patients; nobody else may do anything
      [
        '/AccessPolicy/alice-reads',
        {
          resourceType: 'AccessPolicy',
          engine: 'json-schema',
          schema: {
            required: ['jwt', 'request-method'],
            properties: {
              jwt: { required: ['sub'], properties: { sub: { const: 'alice' } } },
              'request-method': { const: 'get' },
            },
          },
        },
      ],
      [
        '/AccessPolicy/public-metadata',
        {
          resourceType: 'AccessPolicy',
          engine: 'json-schema',
          schema: { required: ['uri'], properties: { uri: { const: '/fhir/metadata' } } },
        },
      ],
    ];
    for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);
    alice = await mint({ sub: 'alice' });
    bob = await mint({ sub: 'bob' });
    const deadline = Date.now() + 10_000;
    while (
      (await fetch(`${cluster.gatewayUrl}/fhir/Patient`, { headers: { authorization: `Bearer ${alice}` } }))
        .status !== 200
    ) {
      if (Date.now() > deadline) throw new Error('configuration never reached the worker');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    await cluster?.stop();
    upstream?.close();
  });

  it('proxies an allowed request with identity headers and strips client-sent copies', async () => {
    seen = [];
    const res = await fetch(`${cluster.gatewayUrl}/fhir/Patient?name=smith`, {
      headers: { authorization: `Bearer ${alice}`, 'x-authz-user': 'root', 'X-Authz-Policy': 'forged' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('upstream saw GET /fhir/Patient?name=smith');
    expect(res.headers.get('x-upstream')).toBe('yes');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['x-authz-user']).toBe('alice');
    expect(seen[0]!.headers['x-authz-subject']).toBe('alice');
    expect(seen[0]!.headers['x-authz-policy']).toBe('alice-reads');
  });

  it('never reaches the upstream for a denied request', async () => {
    seen = [];
    const res = await fetch(`${cluster.gatewayUrl}/fhir/Patient`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('application/fhir+json');
    expect(seen).toHaveLength(0);
  });

  it('allows anonymous access only where a policy says so', async () => {
    expect((await fetch(`${cluster.gatewayUrl}/fhir/metadata`)).status).toBe(200);
    const denied = await fetch(`${cluster.gatewayUrl}/fhir/Patient`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer realm="authz", error="invalid_token"/);
  });

  it.each([
    ['nginx', { 'x-original-method': 'GET', 'x-original-uri': '/fhir/Patient/1' }],
    [
      'Traefik',
      {
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': '/fhir/Patient/1',
        'x-forwarded-proto': 'https',
        'x-forwarded-for': '203.0.113.9',
      },
    ],
  ])('forward-auth (%s headers): 200 with identity headers, 403, 401', async (_proxy, original) => {
    const ok = await fetch(`${cluster.gatewayUrl}/_authz/forward`, {
      headers: { ...original, authorization: `Bearer ${alice}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-authz-user')).toBe('alice');
    expect(ok.headers.get('x-authz-policy')).toBe('alice-reads');
    const forbidden = await fetch(`${cluster.gatewayUrl}/_authz/forward`, {
      headers: { ...original, authorization: `Bearer ${bob}` },
    });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { issue: Array<{ code: string }> }).issue[0]!.code).toBe('forbidden');
    const unauthorized = await fetch(`${cluster.gatewayUrl}/_authz/forward`, { headers: { ...original } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('forward-auth without the original URI is a 400 naming the header', async () => {
    const res = await fetch(`${cluster.gatewayUrl}/_authz/forward`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('X-Original-URI');
  });

  it('serves health, readiness and Prometheus metrics under /_authz/', async () => {
    expect((await fetch(`${cluster.gatewayUrl}/_authz/healthz`)).status).toBe(200);
    expect((await fetch(`${cluster.gatewayUrl}/_authz/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${cluster.gatewayUrl}/_authz/metrics`)).text();
    expect(metrics).toMatch(/authz_gateway_requests_total\{.*route="forward".*\} \d+/);
    expect(metrics).toContain('authz_gateway_check_duration_seconds_bucket');
  });

  it('answers 503 (never allow) when no worker is listening', async () => {
    const port = await freePort();
    let lonely: ServiceProcess | undefined;
    try {
      lonely = await startService('gateway', {
        ...cluster.env,
        GATEWAY_PORT: String(port),
        AUTHZ_SUBJECT_PREFIX: 'nobody-home',
        GATEWAY_CHECK_TIMEOUT_MS: '300',
      });
      const res = await fetch(`http://127.0.0.1:${port}/fhir/Patient`, {
        headers: { authorization: `Bearer ${alice}` },
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      const outcome = (await res.json()) as { issue: Array<{ diagnostics: string }> };
      expect(outcome.issue[0]!.diagnostics).toMatch(/no authorization worker/);
    } finally {
      await lonely?.stop();
    }
  });
});
