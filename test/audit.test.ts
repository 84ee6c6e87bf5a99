import {
  freePort,
  SEED_INTROSPECTOR_SECRET,
  SEED_USER,
  startCluster,
  startService,
  type TestCluster,
} from '@authz/test-support';
import { type JetStreamManager, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// DESIGN §14 "A durable audit trail", end to end: checks through the gateway → AUTHZ_DECISIONS
// (written by nats-server) → GET /AuditEvent on the config service.

const POLICY = {
  resourceType: 'AccessPolicy',
  id: 'read-patients',
  engine: 'matcho',
  matcho: { 'request-method': 'get', uri: '#^/fhir/Patient', user: { id: 'some-user-id' } },
};
const now = () => Math.floor(Date.now() / 1000);
const sign = (claims: Record<string, unknown>, secret = 'very-secret') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));

/** The parts of an AuditEvent these tests read. */
interface AuditEvent {
  outcome: string;
  agent: Array<{ who: { reference?: string; display?: string } }>;
  entity: Array<{ what: { reference?: string }; detail?: Array<{ type: string; valueString: string }> }>;
}

interface Case {
  method: string;
  path: string;
  token?: string;
  status: number;
  outcome: '0' | '4' | '8';
}

describe('audit trail end to end (gateway → NATS → AUTHZ_DECISIONS → GET /AuditEvent)', () => {
  let cluster: TestCluster;
  let cases: Case[];
  let started: string;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 1 });
    const idpPort = await freePort(); // nothing listens: the JWKS fetch fails → 503
    for (const [path, body] of [
      ['/TokenIntrospector/external-auth-server', SEED_INTROSPECTOR_SECRET],
      ['/User/some-user-id', SEED_USER],
      ['/AccessPolicy/read-patients', JSON.stringify(POLICY)],
      [
        '/TokenIntrospector/down',
        `resourceType: TokenIntrospector\nid: down\ntype: jwt\njwt:\n  iss: https://down.example.com\njwks_uri: http://127.0.0.1:${idpPort}/jwks\n`,
      ],
    ] as const) {
      const type = body.startsWith('{') ? 'application/json' : 'text/yaml';
      const res = await cluster.admin('PUT', path, body, type);
      expect(res.status, `${path}: ${await res.clone().text()}`).toBe(201);
    }
    const claims = { iss: 'https://auth.example.com', sub: 'some-user-id', exp: now() + 3600, iat: now() };
    const good = await sign({ ...claims, client_id: 'billing-app' });
    const forged = await sign(claims, 'wrong-secret');
    // An issuer whose key source does not answer: the worker cannot decide (503).
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const unreachable = `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ iss: 'https://down.example.com', sub: 'x', exp: now() + 3600 })}.c2ln`;
    // Wait until the worker has the configuration: an allowed read of a marker path.
    await waitUntil(async () => (await through('GET', '/fhir/Patient/warmup', good)).status === 200);
    await new Promise((r) => setTimeout(r, 1100));
    started = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await new Promise((r) => setTimeout(r, 1000));
    cases = [
      { method: 'GET', path: '/fhir/Patient/pt-1', token: good, status: 200, outcome: '0' },
      { method: 'DELETE', path: '/fhir/Patient/pt-1', token: good, status: 403, outcome: '4' },
      { method: 'GET', path: '/fhir/Patient?name=smith', status: 401, outcome: '4' },
      { method: 'GET', path: '/fhir/Observation/o-1', token: forged, status: 401, outcome: '4' },
      { method: 'GET', path: '/fhir/Patient/pt-2', token: unreachable, status: 503, outcome: '8' },
      { method: 'GET', path: '/fhir/Patient/pt-3?_elements=name', token: good, status: 200, outcome: '0' },
    ];
    for (const c of cases) expect((await through(c.method, c.path, c.token)).status, c.path).toBe(c.status);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  function through(method: string, path: string, token?: string): Promise<Response> {
    return fetch(cluster.gatewayUrl + path, {
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  }

  async function audit(query: string): Promise<AuditEvent[]> {
    const res = await cluster.admin('GET', `/AuditEvent?date=ge${started}${query ? `&${query}` : ''}`);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = (await res.json()) as { entry: Array<{ resource: AuditEvent }> };
    return body.entry.map((e) => e.resource);
  }
  const summary = (ae: AuditEvent) => {
    const detail = Object.fromEntries((ae.entity.at(-1)?.detail ?? []).map((d) => [d.type, d.valueString]));
    return `${ae.outcome} ${detail.status} ${detail.method} ${detail.path}${detail.query ? `?${detail.query}` : ''}`;
  };
  const expected = () => [...cases].reverse().map((c) => `${c.outcome} ${c.status} ${c.method} ${c.path}`);

  it('lists exactly the checks made, newest first, with outcome, agent, path and policy', async () => {
    await waitUntil(async () => (await audit('')).length === cases.length);
    const events = await audit('');
    expect(events.map(summary)).toEqual(expected());
    const [newest] = events;
    expect(newest?.agent.map((a) => a.who.reference)).toEqual(['User/some-user-id', 'Client/billing-app']);
    expect(newest?.entity.map((e) => e.what.reference).filter(Boolean)).toEqual([
      'Patient/pt-3',
      'AccessPolicy/read-patients',
    ]);
    // No event holds a token (DESIGN §5), nor names an agent for the forged one.
    for (const c of cases) if (c.token) expect(JSON.stringify(events)).not.toContain(c.token.split('.')[1]);
    expect(events[2]?.agent).toEqual([expect.objectContaining({ who: { display: 'anonymous' } })]);
    // The verifier's stable error codes travel into the trail (STYLE: "error codes travel").
    const codes = events.map(
      (e) => e.entity.at(-1)?.detail?.find((d) => d.type === 'error_code')?.valueString,
    );
    expect(codes.slice(1, 3)).toEqual(['ERR_KEY_SOURCE_UNAVAILABLE', 'ERR_JWS_SIGNATURE_INVALID']);
  });

  it.each([
    [
      'outcome=4',
      [
        '4 401 GET /fhir/Observation/o-1',
        '4 401 GET /fhir/Patient?name=smith',
        '4 403 DELETE /fhir/Patient/pt-1',
      ],
    ],
    ['outcome=8', ['8 503 GET /fhir/Patient/pt-2']],
    ['policy=read-patients', ['0 200 GET /fhir/Patient/pt-3?_elements=name', '0 200 GET /fhir/Patient/pt-1']],
    ['agent=Client/billing-app&outcome=4', ['4 403 DELETE /fhir/Patient/pt-1']],
    [
      'agent=User/some-user-id&_count=2',
      ['0 200 GET /fhir/Patient/pt-3?_elements=name', '4 403 DELETE /fhir/Patient/pt-1'],
    ],
    ['_count=1', ['0 200 GET /fhir/Patient/pt-3?_elements=name']],
  ])('filters %s', async (query, want) => {
    expect((await audit(query)).map(summary)).toEqual(want);
  });

  it('keeps the events across restarts of the config service, a worker and NATS', async () => {
    const configPort = new URL(cluster.configUrl).port;
    await cluster.config.stop('SIGTERM');
    await cluster.workers[0]?.stop('SIGTERM');
    await cluster.nats.stop();
    await cluster.nats.start();
    cluster.config = await startService('config', {
      ...cluster.env,
      CONFIG_PORT: configPort,
      CONFIG_ADMIN_PASSWORD: cluster.adminPassword,
    });
    cluster.workers[0] = await cluster.addWorker();
    const events = await audit('');
    expect(events.map(summary)).toEqual(expected());
  });

  it('keeps deciding when the stream is gone, and the loss shows in a metric', async () => {
    // The test before restarted NATS: this connection reconnects on its own schedule, and
    // JetStream answers only once it has recovered its streams (a first API call could time out).
    let jsm: JetStreamManager | undefined;
    await waitUntil(async () => {
      jsm = await jetstreamManager(cluster.nc, { timeout: 2000 });
      await jsm.getAccountInfo();
      return true;
    }, 30_000);
    if (!jsm) throw new Error('no JetStream manager');
    const manager = jsm;
    // Delete the stream and let another stream hold its subject, so the config service cannot
    // re-create it (JetStream refuses overlapping subjects) until the squatter goes away.
    await waitUntil(async () => {
      await manager.streams.delete('AUTHZ_DECISIONS').catch(() => false);
      await manager.streams.add({
        name: 'SQUATTER',
        subjects: ['authz.v1.decisions'],
        storage: StorageType.Memory,
      });
      return true;
    });
    const good = cases[0]?.token as string;
    for (let i = 0; i < 6; i++) expect((await through('GET', '/fhir/Patient/pt-9', good)).status).toBe(200);
    const metric = async (name: string) => {
      const text = await (await fetch(`${cluster.configUrl}/metrics`)).text();
      return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    };
    await waitUntil(async () => (await metric('authz_audit_events_lost_total')) >= 6, 15_000);
    expect(await metric('authz_audit_stream_available')).toBe(0);

    // The squatter leaves: the config service re-creates the stream and recording resumes.
    await manager.streams.delete('SQUATTER');
    await waitUntil(async () => (await metric('authz_audit_stream_available')) === 1, 15_000);
    expect((await through('GET', '/fhir/Patient/pt-10', good)).status).toBe(200);
    await waitUntil(async () => (await audit('')).some((e) => summary(e).endsWith('/fhir/Patient/pt-10')));
  });
  it('with AUTHZ_AUDIT=off keeps no stream, says so on GET /AuditEvent, and decides as before', async () => {
    const configPort = new URL(cluster.configUrl).port;
    await cluster.config.stop('SIGTERM');
    const jsm = await jetstreamManager(cluster.nc, { timeout: 2000 });
    await jsm.streams.delete('AUTHZ_DECISIONS');
    // With the trail on, the config service creates the stream before it is ready; off, never.
    cluster.config = await startService('config', {
      ...cluster.env,
      CONFIG_PORT: configPort,
      CONFIG_ADMIN_PASSWORD: cluster.adminPassword,
      AUTHZ_AUDIT: 'off',
    });
    const res = await cluster.admin('GET', '/AuditEvent');
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('AUTHZ_AUDIT=off');
    expect((await through('GET', '/fhir/Patient/pt-11', cases[0]?.token)).status).toBe(200);
    await expect(jsm.streams.info('AUTHZ_DECISIONS')).rejects.toThrow(/not found/i);
  });
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
