import { createServer, type Server } from 'node:http';
import {
  AIDBOX_OPERATION_EXAMPLES,
  EXAMPLE_CLIENTS,
  EXAMPLE_ROLES,
  EXAMPLE_USERS,
  type ExampleCaller,
  type ExampleRow,
  exampleBundle,
  exampleClientSecret,
  freePort,
  startCluster,
  type TestCluster,
} from '@authz/test-support';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// DESIGN §12 end to end: Aidbox's Operation-keyed policies, Basic clients and Bundles through
// the real gateway (proxy mode, a real upstream) and a real worker.
const ISS = 'https://idp.fhir.test';
const secret = new TextEncoder().encode('fhir-awareness-secret-of-32-bytes!');
const now = () => Math.floor(Date.now() / 1000);
const mint = (claims: Record<string, unknown>) =>
  new SignJWT({ iss: ISS, exp: now() + 600, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
const basic = (id: string, password: string) =>
  `Basic ${Buffer.from(`${id}:${password}`).toString('base64')}`;

interface Seen {
  method?: string;
  url?: string;
  body: Buffer;
}

describe('FHIR awareness through the gateway and worker (DESIGN §12)', () => {
  let cluster: TestCluster;
  let upstream: Server;
  let seen: Seen[] = [];

  async function authorization(caller: ExampleCaller): Promise<string | undefined> {
    if (caller === undefined) return undefined;
    if ('client' in caller) return basic(caller.client, exampleClientSecret(caller.client));
    if ('user' in caller) return `Bearer ${await mint({ sub: caller.user, ...caller.claims })}`;
    return `Bearer ${await mint({ sub: 'someone', ...caller.claims })}`;
  }

  async function send(row: Pick<ExampleRow, 'method' | 'uri' | 'body' | 'as'>, auth?: string) {
    const headers: Record<string, string> = {};
    const authz = auth ?? (await authorization(row.as));
    if (authz) headers.authorization = authz;
    let body: string | undefined;
    if (row.body !== undefined) {
      body = JSON.stringify(row.body);
      headers['content-type'] = 'application/fhir+json';
    }
    return fetch(cluster.gatewayUrl + row.uri, { method: row.method, headers, body });
  }

  /** Waits until the worker decides with configuration revision `revision` or later. */
  async function propagated(response: Response) {
    const revision = Number(/"(\d+)"/.exec(response.headers.get('etag') ?? '')?.[1] ?? 0);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const msg = await cluster.nc.request('authz.v1.check', JSON.stringify({ method: 'GET', uri: '/' }), {
        timeout: 2000,
      });
      if ((msg.json<{ revision?: number }>().revision ?? 0) >= revision) return;
      if (Date.now() > deadline) throw new Error(`revision ${revision} never reached the worker`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function put(resource: Record<string, unknown>) {
    const res = await cluster.admin('PUT', `/${resource.resourceType}/${resource.id}`, resource);
    expect([200, 201]).toContain(res.status);
    return res;
  }

  beforeAll(async () => {
    const upstreamPort = await freePort();
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/fhir+json' }).end('{"resourceType":"Bundle"}');
      });
    });
    await new Promise<void>((r) => upstream.listen(upstreamPort, '127.0.0.1', () => r()));
    cluster = await startCluster({
      workers: 1,
      gatewayEnv: {
        UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
        // A Basic client's first request runs scrypt (tens of ms, seconds on a loaded 2-core box).
        GATEWAY_CHECK_TIMEOUT_MS: '10000',
      },
    });
    await put({
      resourceType: 'TokenIntrospector',
      id: 'idp',
      type: 'jwt',
      jwt: { iss: ISS, secret: new TextDecoder().decode(secret) },
    });
    for (const resource of [...EXAMPLE_USERS, ...EXAMPLE_ROLES]) await put(resource);
    let last: Response | undefined;
    for (const client of EXAMPLE_CLIENTS) last = await put(client);
    last = await put({
      resourceType: 'Client',
      id: 'no-basic',
      secret: 'no-basic-secret',
      grant_types: ['client_credentials'],
    });
    await propagated(last);
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    upstream?.close();
  });

  describe.each(AIDBOX_OPERATION_EXAMPLES)('Aidbox docs: $name', ({ policies, rows }) => {
    beforeAll(async () => {
      let last: Response | undefined;
      for (const policy of policies) last = await put(policy);
      if (last) await propagated(last);
    });
    afterAll(async () => {
      let last: Response | undefined;
      for (const policy of policies) last = await cluster.admin('DELETE', `/AccessPolicy/${policy.id}`);
      if (last) await propagated(last);
    });

    it.each(rows)('$what: $method $uri → $status', async (row) => {
      seen = [];
      const res = await send(row);
      const text = await res.text();
      expect({ status: res.status, text: res.status === row.status ? '' : text }).toEqual({
        status: row.status,
        text: '',
      });
      if (row.reason) expect(JSON.parse(text).issue[0].diagnostics).toMatch(row.reason);
      if (row.status === 200) {
        // The upstream gets exactly what was checked: the same target and the same bytes.
        expect(seen).toHaveLength(1);
        expect(seen[0]?.url).toBe(row.uri);
        expect(seen[0]?.body.toString('utf8')).toBe(row.body === undefined ? '' : JSON.stringify(row.body));
      } else {
        expect(seen).toHaveLength(0);
      }
    });
  });

  describe('Basic clients and Bundles', () => {
    const policies = [
      {
        resourceType: 'AccessPolicy',
        id: 'system1-all',
        engine: 'matcho',
        link: [{ reference: 'Client/system1-client' }],
        matcho: { client: { id: 'system1-client' } },
      },
    ];
    beforeAll(async () => {
      for (const policy of policies) await propagated(await put(policy));
    });

    it.each([
      ['a wrong secret', basic('system1-client', 'guess'), /name no Client with that secret/],
      ['an unknown client', basic('nobody', 'system1-client-secret'), /name no Client with that secret/],
      ['a Client without the basic grant', basic('no-basic', 'no-basic-secret'), /grant_types lack "basic"/],
      ['credentials that are not base64', 'Basic !!!!', /not base64/],
    ])('answers %s with 401 and never reaches the upstream', async (_what, auth, reason) => {
      seen = [];
      const res = await send({ method: 'GET', uri: '/fhir/Patient', as: undefined }, auth);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { issue: Array<{ diagnostics: string }> }).issue[0]?.diagnostics).toMatch(
        reason,
      );
      expect(seen).toHaveLength(0);
    });

    it('puts the Client in the context without its secret (explain, decision events)', async () => {
      const events: string[] = [];
      const sub = cluster.nc.subscribe('authz.v1.decisions', {
        callback: (_e, m) => {
          events.push(m.string());
        },
      });
      const msg = await cluster.nc.request(
        'authz.v1.check',
        JSON.stringify({
          method: 'GET',
          uri: '/fhir/Patient',
          headers: { authorization: basic('system1-client', exampleClientSecret('system1-client')) },
          explain: true,
        }),
        { timeout: 5000 },
      );
      const reply = msg.json<Record<string, unknown>>();
      expect(reply).toMatchObject({
        allow: true,
        policy: 'system1-all',
        identity: { kind: 'basic', client: 'system1-client' },
      });
      await cluster.nc.flush();
      await new Promise((r) => setTimeout(r, 200));
      sub.unsubscribe();
      const everything = msg.string() + events.join('');
      expect(everything).not.toContain('$scrypt$');
      expect(everything).not.toContain('system1-client-secret');
      const withSecret = await cluster.admin('GET', '/Client/system1-client');
      expect(await withSecret.text()).not.toContain('system1-client-secret');
    });

    it('decides a batch of 200 entries and passes it upstream byte-identical', async () => {
      const bundle = exampleBundle(
        'batch',
        Array.from({ length: 200 }, (_, i): [string, string, unknown] => [
          'PUT',
          `Patient/p-${i}`,
          { resourceType: 'Patient', id: `p-${i}` },
        ]),
      );
      seen = [];
      const res = await send({
        method: 'POST',
        uri: '/fhir',
        body: bundle,
        as: { client: 'system1-client' },
      });
      expect(res.status).toBe(200);
      expect(seen[0]?.body.toString('utf8')).toBe(JSON.stringify(bundle));
    });

    it.each([
      [
        'a Bundle of another type',
        { resourceType: 'Bundle', type: 'collection' },
        /only batch and transaction/,
      ],
      ['no Bundle at all', { resourceType: 'Patient' }, /the body is not a Bundle/],
      [
        'an absolute entry url',
        exampleBundle('batch', [['GET', 'http://evil.test/fhir/Patient']]),
        /entry 0 cannot be authorized: .*not a relative FHIR url/,
      ],
      [
        'a dot-segment',
        exampleBundle('batch', [['GET', 'Patient/../AccessPolicy']]),
        /entry 0 cannot be authorized/,
      ],
      [
        'an entry without a method',
        { resourceType: 'Bundle', type: 'batch', entry: [{ request: { url: 'Patient' } }] },
        /entry 0 cannot be authorized: .*method/,
      ],
      [
        'more entries than the bound',
        exampleBundle(
          'batch',
          Array.from({ length: 1001 }, (): [string, string] => ['GET', 'Patient']),
        ),
        /1001 entries, more than the 1000/,
      ],
    ])('refuses %s (403, nothing upstream)', async (_what, body, reason) => {
      seen = [];
      const res = await send({ method: 'POST', uri: '/fhir', body, as: { client: 'system1-client' } });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { issue: Array<{ diagnostics: string }> }).issue[0]?.diagnostics).toMatch(
        reason,
      );
      expect(seen).toHaveLength(0);
    });

    it('refuses a Bundle the check cannot see (forward-auth sends no body)', async () => {
      const res = await fetch(`${cluster.gatewayUrl}/_authz/forward`, {
        headers: {
          'x-original-method': 'POST',
          'x-original-uri': '/fhir',
          authorization: basic('system1-client', exampleClientSecret('system1-client')),
        },
      });
      expect(res.status).toBe(403);
    });
  });
});
