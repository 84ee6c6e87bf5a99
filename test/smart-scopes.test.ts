import { subjects } from '@authz/protocol';
import {
  type FhirUpstream,
  type IntrospectionServer,
  mintJwt,
  r4Observation,
  startCluster,
  startFhirUpstream,
  startIntrospectionServer,
  type TestCluster,
} from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// DESIGN §13 end to end: real NATS, Redis, config service, workers and gateway in proxy mode in
// front of a recording FHIR R4 upstream; a Keycloak-style JWT issuer and an RFC 7662 endpoint.
const ISS = 'https://keycloak.example.org/realms/clinic';
const SECRET = 'smart-test-secret-of-at-least-32-bytes!';
const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
const INTROSPECT_AUTH = 'Basic c21hcnQ6c2VjcmV0';

interface Answer {
  status: number;
  body: string;
  challenge: string | null;
}

describe('SMART on FHIR scopes and the patient compartment at the gateway (DESIGN §13)', () => {
  let cluster: TestCluster;
  let upstream: FhirUpstream;
  let introspection: IntrospectionServer;

  beforeAll(async () => {
    upstream = await startFhirUpstream();
    introspection = await startIntrospectionServer({ authorization: INTROSPECT_AUTH });
    cluster = await startCluster({
      workers: 2,
      gatewayEnv: { UPSTREAM_URL: upstream.url, GATEWAY_MAX_CHECKED_RESPONSE_BYTES: '4096' },
    });
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/keycloak',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: ISS, secret: SECRET } },
      ],
      [
        '/TokenIntrospector/ehr-introspection',
        {
          resourceType: 'TokenIntrospector',
          type: 'opaque',
          smart_scopes: true,
          introspection_endpoint: { url: introspection.url, authorization: INTROSPECT_AUTH },
        },
      ],
      // Aidbox's documented pattern: an allow policy linked to the SMART app; the scopes restrict.
      [
        '/AccessPolicy/growth-chart-app',
        { resourceType: 'AccessPolicy', engine: 'allow', link: [{ reference: 'Client/growth-chart' }] },
      ],
    ];
    for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);
    const probe = await jwt({ scope: 'user/*.cruds' });
    await waitFor(async () => (await get(probe, '/fhir/Patient/pt1')).status === 200);
  });
  afterAll(async () => {
    await cluster?.stop();
    await upstream?.close();
    await introspection?.dispose();
  });

  const jwt = (claims: Record<string, unknown>) =>
    mintJwt({
      key: SECRET,
      alg: 'HS256',
      claims: { iss: ISS, sub: 'u-amy', azp: 'growth-chart', atv: 2, ...claims },
    });
  let opaqueCount = 0;
  const opaqueToken = (claims: Record<string, unknown>) => {
    const token = `opaque-smart-${++opaqueCount}`;
    introspection.setToken(token, { active: true, sub: 'u-amy', client_id: 'growth-chart', ...claims });
    return token;
  };

  async function send(token: string, method: string, path: string, body?: unknown): Promise<Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/fhir+json';
    const res = await fetch(cluster.gatewayUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.text(), challenge: res.headers.get('www-authenticate') };
  }
  const get = (token: string, path: string) => send(token, 'GET', path);

  // [scope, patient, method, path, body, status, reason fragment]
  const table: Array<[string, string | undefined, string, string, unknown, number, string]> = [
    ['patient/*.read', 'pt1', 'GET', '/fhir/Condition?patient=pt1', undefined, 200, ''],
    [
      'patient/*.read',
      'pt1',
      'POST',
      '/fhir/Condition',
      { resourceType: 'Condition', subject: { reference: 'Patient/pt1' } },
      403,
      'it needs create (c) on Condition',
    ],
    ['user/Observation.write', undefined, 'POST', '/fhir/Observation', r4Observation('new', 'pt2'), 201, ''],
    [
      'user/Observation.write',
      undefined,
      'GET',
      '/fhir/Observation?patient=pt2',
      undefined,
      403,
      'it needs search (s) on Observation',
    ],
    ['patient/Observation.rs', 'pt1', 'GET', '/fhir/Observation?patient=pt1', undefined, 200, ''],
    ['patient/Observation.rs', 'pt1', 'GET', '/fhir/Patient/pt1/Observation', undefined, 200, ''],
    ['patient/Observation.rs', 'pt1', 'GET', '/fhir/Observation', undefined, 403, 'add patient=pt1'],
    [
      'patient/Observation.rs',
      'pt1',
      'GET',
      '/fhir/Observation?patient=pt1,pt2',
      undefined,
      403,
      'does not name Patient/pt1 alone',
    ],
    ['patient/Observation.cruds', 'pt1', 'POST', '/fhir/Observation', r4Observation('new', 'pt1'), 201, ''],
    [
      'patient/Observation.cruds',
      'pt1',
      'POST',
      '/fhir/Observation',
      r4Observation('new', 'pt2'),
      403,
      'must reference Patient/pt1',
    ],
    [
      `patient/Observation.rs?category=${LAB}`,
      'pt1',
      'GET',
      `/fhir/Observation?patient=pt1&category=${encodeURIComponent(LAB)}`,
      undefined,
      200,
      '',
    ],
    [
      `patient/Observation.rs?category=${LAB}`,
      'pt1',
      'GET',
      '/fhir/Observation?patient=pt1',
      undefined,
      403,
      `requires the search to carry category=${LAB}`,
    ],
    [
      `patient/Observation.rs?category=${LAB}`,
      'pt1',
      'GET',
      '/fhir/Observation/o-vitals-pt1',
      undefined,
      403,
      'Observation/o-vitals-pt1 is outside',
    ],
    [
      'patient/Patient.read patient/Observation.read',
      'pt1',
      'GET',
      '/fhir/Appointment/a1',
      undefined,
      403,
      'it needs read (r) on Appointment',
    ],
    [
      'patient/Observation.dus',
      'pt1',
      'GET',
      '/fhir/Observation?patient=pt1',
      undefined,
      401,
      'has permissions ".dus"',
    ],
    [
      'system/Observation.rs?category=laboratory',
      undefined,
      'GET',
      '/fhir/Observation',
      undefined,
      401,
      'not allowed on system/ scopes',
    ],
    [
      'user/*.rs?status=final',
      undefined,
      'GET',
      '/fhir/Observation',
      undefined,
      401,
      'not allowed on a wildcard resource type',
    ],
  ];

  it.each(table)(
    'JWT %s (patient %s): %s %s → %i',
    async (scope, patient, method, path, body, status, reason) => {
      const token = await jwt({
        scope: `openid fhirUser launch/patient ${scope}`,
        ...(patient ? { context: { patient } } : {}),
      });
      const answer = await send(token, method, path, body);
      expect(answer.status).toBe(status);
      if (reason) expect(reasonOf(answer.body)).toContain(reason);
      if (status === 401) expect(answer.challenge).toContain('error="invalid_token"');
    },
  );

  it.each(table)(
    'opaque %s (patient %s): %s %s → %i',
    async (scope, patient, method, path, body, status, reason) => {
      const token = opaqueToken({ scope: `openid ${scope}`, ...(patient ? { patient } : {}) });
      const answer = await send(token, method, path, body);
      expect(answer.status).toBe(status);
      if (reason) expect(reasonOf(answer.body)).toContain(reason);
    },
  );

  describe('the patient compartment (context patient pt1)', () => {
    let token: string;
    beforeAll(async () => {
      token = await jwt({
        scope: 'launch/patient patient/Patient.rs patient/Observation.cruds',
        context: { patient: 'pt1' },
      });
    });

    it('allows Patient/pt1 and refuses Patient/pt2 without its body reaching the client', async () => {
      expect((await get(token, '/fhir/Patient/pt1')).status).toBe(200);
      const other = await get(token, '/fhir/Patient/pt2');
      expect(other.status).toBe(403);
      expect(other.body).toContain('Patient/pt2 is outside');
      expect(other.body).not.toContain('SECRET-OF-PT2');
    });

    it("checks a read by id on the response: own observation passes, another patient's never reaches the client", async () => {
      const own = await get(token, '/fhir/Observation/o-of-pt1');
      expect(own.status).toBe(200);
      expect(JSON.parse(own.body)).toMatchObject({ id: 'o-of-pt1', subject: { reference: 'Patient/pt1' } });
      const before = upstream.seen.length;
      const theirs = await get(token, '/fhir/Observation/o-of-pt2');
      expect(theirs.status).toBe(403);
      expect(theirs.body).toContain("Observation/o-of-pt2 is outside the token's SMART scopes");
      expect(theirs.body).not.toContain('SECRET-OF-PT2');
      // The upstream was asked (the check is on its answer) and asked for an uncompressed body.
      expect(upstream.seen.slice(before).map((r) => [r.url, r.headers['accept-encoding']])).toEqual([
        ['/fhir/Observation/o-of-pt2', 'identity'],
      ]);
    });

    it('refuses a response it cannot check: over the bound, or not JSON', async () => {
      const big = await get(token, '/fhir/Observation/o-big-pt1');
      expect(big.status).toBe(502);
      expect(big.body).toContain('larger than 4096 bytes');
      const xml = await get(token, '/fhir/Observation/o-of-pt1?_format=xml');
      expect(xml.status).toBe(502);
      expect(xml.body).toContain('only JSON responses can be checked');
    });

    it("passes the upstream's own errors unread", async () => {
      const missing = await get(token, '/fhir/Observation/nope');
      expect(missing.status).toBe(404);
      expect(missing.body).toContain('not-found');
    });

    it('checks every entry of a transaction and names the one refused', async () => {
      const entry = (patient: string) => ({
        resource: r4Observation(`new-${patient}`, patient),
        request: { method: 'POST', url: 'Observation' },
      });
      const bundle = (...entries: unknown[]) => ({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: entries,
      });
      const before = upstream.seen.length;
      const mixed = await send(token, 'POST', '/fhir', bundle(entry('pt1'), entry('pt2')));
      expect(mixed.status).toBe(403);
      expect(reasonOf(mixed.body)).toBe(
        'SMART scopes do not allow entry 1 of POST /fhir, POST /fhir/Observation: the Observation must reference Patient/pt1 through a Patient-compartment element (patient/Observation.cruds)',
      );
      expect(upstream.seen.length).toBe(before);
      const search = { request: { method: 'GET', url: 'Observation?patient=pt2' } };
      expect(reasonOf((await send(token, 'POST', '/fhir', bundle(search))).body)).toContain(
        'entry 0 of POST /fhir, GET /fhir/Observation: patient=pt2 does not name Patient/pt1 alone',
      );
      const nested = { resource: bundle(), request: { method: 'POST', url: '' } };
      expect((await send(token, 'POST', '/fhir', bundle(nested))).status).toBe(403);
      expect(
        (
          await send(
            token,
            'POST',
            '/fhir',
            bundle(entry('pt1'), { request: { method: 'GET', url: 'Observation?patient=pt1' } }),
          )
        ).status,
      ).toBe(201); // the recording upstream's answer to a POST
    });

    it('denies a read by id in forward mode with a reason', async () => {
      const res = await fetch(`${cluster.gatewayUrl}/_authz/forward`, {
        headers: {
          authorization: `Bearer ${token}`,
          'x-original-method': 'GET',
          'x-original-uri': '/fhir/Observation/o-of-pt1',
        },
      });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('only when the gateway can check the response (proxy mode)');
    });
  });

  it('confines a search by POST by its query and form body together (DESIGN §10, §13)', async () => {
    const token = await jwt({ scope: 'patient/Observation.rs', patient: 'pt1' });
    const post = async (path: string, form: string) => {
      const res = await fetch(cluster.gatewayUrl + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
      return { status: res.status, body: await res.text() };
    };
    expect((await post('/fhir/Observation/_search', 'patient=pt1')).status).toBe(200);
    expect((await post('/fhir/Observation/_search?code=x', 'patient=pt1&_count=5')).status).toBe(200);
    const other = await post('/fhir/Observation/_search?patient=pt1', 'patient=pt2');
    expect(other.status).toBe(403);
    expect(other.body).toContain('pt2');
    expect((await post('/fhir/Observation/_search', 'code=x')).status).toBe(403);
  });

  it('allows an $operation only within a scope on its type and through a policy linked to it', async () => {
    const token = await jwt({ scope: 'patient/*.rs', context: { patient: 'pt1' } });
    const unlinked = await get(token, '/fhir/Patient/pt1/$everything');
    expect(unlinked.status).toBe(403);
    expect(reasonOf(unlinked.body)).toContain(
      'under SMART scopes only an AccessPolicy linked to Operation/FhirCompartmentEverything may allow it',
    );
    const linked = {
      resourceType: 'AccessPolicy',
      engine: 'matcho',
      matcho: { jwt: { azp: 'growth-chart' } },
      link: [{ reference: 'Operation/FhirCompartmentEverything' }],
    };
    expect((await cluster.admin('PUT', '/AccessPolicy/growth-chart-everything', linked)).status).toBe(201);
    await waitFor(async () => (await get(token, '/fhir/Patient/pt1/$everything')).status === 200);
    const other = await get(token, '/fhir/Patient/pt2/$everything');
    expect(other.status).toBe(403);
    expect(reasonOf(other.body)).toContain('the compartment searched is Patient/pt2');
    const narrow = await jwt({ scope: 'patient/Observation.rs', context: { patient: 'pt1' } });
    expect(reasonOf((await get(narrow, '/fhir/Patient/pt1/$everything')).body)).toContain(
      'FhirCompartmentEverything needs read (r) on Patient',
    );
  });

  it('does not enforce scopes without atv (Aidbox) on an introspector without smart_scopes', async () => {
    const token = await jwt({ scope: 'patient/Patient.read', context: { patient: 'pt1' }, atv: undefined });
    expect((await get(token, '/fhir/Appointment/a1')).status).toBe(200);
    const stringAtv = await jwt({ scope: 'patient/Patient.read', context: { patient: 'pt1' }, atv: '2' });
    expect((await get(stringAtv, '/fhir/Appointment/a1')).status).toBe(403);
  });

  it('explains the scope step before the policies', async () => {
    const token = await jwt({ scope: 'patient/Observation.rs', context: { patient: 'pt1' } });
    const ask = async (uri: string) => {
      const msg = await cluster.nc.request(
        subjects().check,
        JSON.stringify({ method: 'GET', uri, headers: { authorization: `Bearer ${token}` }, explain: true }),
        { timeout: 3000 },
      );
      return msg.json<{ status: number; reason: string; explain: Array<Record<string, unknown>> }>();
    };
    const allowed = await ask('/fhir/Observation?patient=pt1');
    expect(allowed.status).toBe(200);
    expect(allowed.explain[0]).toMatchObject({ policy: 'smart-scopes', result: true });
    expect(allowed.explain[1]).toMatchObject({ policy: 'growth-chart-app', result: true });
    const refused = await ask('/fhir/Observation');
    expect(refused).toMatchObject({ status: 403, explain: [{ policy: 'smart-scopes', result: false }] });
  });
});

/** The OperationOutcome's diagnostics (the gateway's reason), or the body as it is. */
function reasonOf(body: string): string {
  try {
    return String(JSON.parse(body).issue?.[0]?.diagnostics ?? body);
  } catch {
    return body;
  }
}

async function waitFor(ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}
