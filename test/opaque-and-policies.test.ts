import { subjects } from '@authz/protocol';
import {
  type IntrospectionServer,
  mintJwt,
  startCluster,
  startIntrospectionServer,
  type TestCluster,
} from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const AUTH = 'Basic aW50cm9zcGVjdDpzZWNyZXQ=';

// The seed's opaque introspector and policy (its `//` lines are not YAML: written as comments).
const introspectorYaml = (url: string) => `resourceType: TokenIntrospector
id: external-auth-server
type: opaque
introspection_endpoint:
  url: ${url}
  authorization: ${AUTH}
`;
const OPAQUE_POLICY_YAML = `engine: matcho
matcho:
  # Everything Aidbox retrieved from introspection_endpoint
  # will be available under \`token\` in AccessPolicy
  token:
    active: true
resourceType: AccessPolicy
`;

describe('opaque tokens, revocation and the policy language through the cluster (issue 4)', () => {
  let cluster: TestCluster;
  let endpoint: IntrospectionServer;

  beforeAll(async () => {
    endpoint = await startIntrospectionServer({
      authorization: AUTH,
      tokens: {
        'opaque-active': { active: true, sub: 'nurse-1', scope: 'patient/*.read' },
        'opaque-revocable': { active: true, sub: 'nurse-2' },
      },
    });
    cluster = await startCluster({ workers: 2 });
    expect(
      (await cluster.admin('PUT', '/TokenIntrospector/external-auth-server', introspectorYaml(endpoint.url)))
        .status,
    ).toBe(201);
    expect(
      (await cluster.admin('PUT', '/AccessPolicy/external-auth-server', OPAQUE_POLICY_YAML)).status,
    ).toBe(201);
    await waitFor(async () => (await check('opaque-active')).status === 200);
  });
  afterAll(async () => {
    await cluster?.stop();
    await endpoint?.dispose();
  });

  async function check(token: string | undefined, request: Record<string, unknown> = {}) {
    const body = {
      method: 'GET',
      uri: '/fhir/Patient',
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...request,
    };
    const msg = await cluster.nc.request(subjects().check, JSON.stringify(body), { timeout: 3000 });
    return msg.json<{
      allow: boolean;
      status: number;
      reason: string;
      error?: string;
      policy?: string;
      explain?: Array<Record<string, unknown>>;
      identity?: Record<string, unknown>;
    }>();
  }

  it('allows an active opaque token and refuses an inactive one (seed scenario)', async () => {
    const ok = await check('opaque-active');
    expect(ok).toMatchObject({
      allow: true,
      status: 200,
      policy: 'external-auth-server',
      identity: { kind: 'opaque', introspector: 'external-auth-server', sub: 'nurse-1', user: 'nurse-1' },
    });
    const inactive = await check('opaque-unknown');
    expect(inactive).toMatchObject({ allow: false, status: 401, error: 'invalid_token' });
    expect(inactive.reason).toMatch(/not active/i);
  });

  it('introspects a token once for 100 checks across two workers, and again after /$revoke', async () => {
    endpoint.resetCalls();
    const workers = new Set<string>();
    const sub = cluster.nc.subscribe(subjects().decisions, {
      callback: (_e, m) => {
        workers.add(m.json<{ worker: string }>().worker);
      },
    });
    const replies = await Promise.all(Array.from({ length: 100 }, () => check('opaque-revocable')));
    sub.unsubscribe();
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(workers.size).toBe(2);
    expect(endpoint.calls('opaque-revocable')).toBe(1);

    const revoke = await cluster.admin(
      'POST',
      '/$revoke',
      'token=opaque-revocable',
      'application/x-www-form-urlencoded',
    );
    expect(revoke.status).toBe(200);
    expect(JSON.stringify(await revoke.json())).not.toContain('opaque-revocable');
    endpoint.removeToken('opaque-revocable'); // the IdP revoked it too
    // The broadcast reaches the workers asynchronously; without revocation the cached result
    // would keep answering 200 for cache_ttl (300 s), so a 2 s bound still proves it.
    await waitFor(async () => {
      const after = await Promise.all(Array.from({ length: 6 }, () => check('opaque-revocable')));
      return after.every((r) => r.status === 401);
    }, 2000);
    expect(endpoint.calls('opaque-revocable')).toBeGreaterThanOrEqual(2);
  });

  it('keeps cached tokens working while the endpoint is down; an uncached one is 503', async () => {
    expect((await check('opaque-active')).status).toBe(200);
    await endpoint.stop();
    try {
      const cached = await Promise.all([
        check('opaque-active'),
        check('opaque-active'),
        check('opaque-active'),
      ]);
      expect(cached.map((r) => r.status)).toEqual([200, 200, 200]);
      const uncached = await check('never-seen-before');
      expect(uncached).toMatchObject({ allow: false, status: 503 });
      expect(uncached.reason).toMatch(/introspect|unreachable|could not/i);
    } finally {
      await endpoint.start();
    }
  });

  describe('matcho policies as in Aidbox docs', () => {
    const jwtSecret = 'policy-secret';
    const token = (sub: string, extra: Record<string, unknown> = {}) =>
      mintJwt({ key: jwtSecret, alg: 'HS256', claims: { iss: 'https://docs.example', sub, ...extra } });

    beforeAll(async () => {
      const puts: Array<[string, unknown]> = [
        [
          '/TokenIntrospector/docs',
          {
            resourceType: 'TokenIntrospector',
            type: 'jwt',
            jwt: { iss: 'https://docs.example', secret: jwtSecret },
          },
        ],
        [
          '/AccessPolicy/external-auth-server',
          {
            resourceType: 'AccessPolicy',
            engine: 'matcho',
            matcho: { token: { active: true }, 'request-method': 'get' },
          },
        ],
        [
          '/AccessPolicy/read-only-patients',
          {
            resourceType: 'AccessPolicy',
            engine: 'matcho',
            matcho: {
              jwt: { sub: 'reader' },
              'request-method': { $enum: ['get', 'head'] },
              uri: '#^/fhir/Patient',
            },
          },
        ],
        [
          '/AccessPolicy/own-practitioner',
          {
            resourceType: 'AccessPolicy',
            engine: 'matcho',
            matcho: { jwt: { sub: '.params.resource/id' }, params: { 'resource/type': 'Practitioner' } },
          },
        ],
        ['/AccessPolicy/admins', { resourceType: 'AccessPolicy', engine: 'allow', roleName: 'admin' }],
        [
          '/Role/admin-carol',
          { resourceType: 'Role', name: 'admin', user: { id: 'carol', resourceType: 'User' } },
        ],
        ['/User/carol', { resourceType: 'User', name: [{ given: ['Carol'] }] }],
        [
          '/AccessPolicy/auditor-complex',
          {
            resourceType: 'AccessPolicy',
            engine: 'complex',
            and: [
              { engine: 'matcho', matcho: { jwt: { scope: { $contains: 'audit' } } } },
              {
                or: [
                  { engine: 'matcho', matcho: { uri: '#^/fhir/AuditEvent' } },
                  {
                    engine: 'json-schema',
                    schema: { required: ['uri'], properties: { uri: { const: '/fhir/metadata' } } },
                  },
                ],
              },
            ],
          },
        ],
      ];
      for (const [path, body] of puts) {
        const res = await cluster.admin('PUT', path, body);
        expect([200, 201], `${path}: ${await res.clone().text()}`).toContain(res.status);
      }
      const reader = await token('reader');
      await waitFor(async () => (await check(reader, { uri: '/fhir/Patient/1' })).status === 200);
    });

    it.each([
      ['reader GET /fhir/Patient/1', 'reader', {}, 'GET', '/fhir/Patient/1', 200, 'read-only-patients'],
      ['reader HEAD /fhir/Patient', 'reader', {}, 'HEAD', '/fhir/Patient', 200, 'read-only-patients'],
      ['reader DELETE /fhir/Patient/1 (method)', 'reader', {}, 'DELETE', '/fhir/Patient/1', 403, undefined],
      ['reader GET /fhir/Observation (uri regex)', 'reader', {}, 'GET', '/fhir/Observation', 403, undefined],
      [
        'pr-7 PUT its own Practitioner',
        'pr-7',
        {},
        'PUT',
        '/fhir/Practitioner/pr-7',
        200,
        'own-practitioner',
      ],
      ['pr-7 PUT another Practitioner', 'pr-7', {}, 'PUT', '/fhir/Practitioner/pr-8', 403, undefined],
      ['pr-7 PUT a Patient with its id', 'pr-7', {}, 'PUT', '/fhir/Patient/pr-7', 403, undefined],
      ['carol (role admin) DELETE anything', 'carol', {}, 'DELETE', '/fhir/Patient/1', 200, 'admins'],
      ['dave (no role) DELETE', 'dave', {}, 'DELETE', '/fhir/Patient/1', 403, undefined],
      [
        'auditor GET /fhir/AuditEvent',
        'aud',
        { scope: ['audit', 'read'] },
        'GET',
        '/fhir/AuditEvent?date=gt2024',
        200,
        'auditor-complex',
      ],
      [
        'auditor GET /fhir/metadata',
        'aud',
        { scope: ['audit'] },
        'GET',
        '/fhir/metadata',
        200,
        'auditor-complex',
      ],
      ['auditor GET /fhir/Patient', 'aud', { scope: ['audit'] }, 'GET', '/fhir/Patient', 403, undefined],
      [
        'non-auditor GET /fhir/AuditEvent',
        'aud',
        { scope: ['read'] },
        'GET',
        '/fhir/AuditEvent',
        403,
        undefined,
      ],
    ] as const)('%s → %i', async (_name, sub, extra, method, uri, status, policy) => {
      const reply = await check(await token(sub, extra), { method, uri });
      expect(reply.status, reply.reason).toBe(status);
      if (policy) expect(reply.policy).toBe(policy);
    });

    it('explains a denial with the failing path, without the token', async () => {
      const t = await token('reader');
      const reply = await check(t, { method: 'DELETE', uri: '/fhir/Patient/1', explain: true });
      expect(reply.status).toBe(403);
      const entry = reply.explain?.find((e) => e.policy === 'read-only-patients');
      expect(entry).toMatchObject({ engine: 'matcho', result: false, path: 'request-method' });
      expect(JSON.stringify(reply)).not.toContain(t);
    });

    it('runs a request through the cluster with explain via POST /$check', async () => {
      const t = await token('reader');
      const res = await cluster.admin('POST', '/$check', {
        method: 'POST',
        uri: '/fhir/Patient',
        headers: { authorization: `Bearer ${t}` },
      });
      expect(res.status).toBe(200);
      const reply = (await res.json()) as {
        status: number;
        explain: Array<{ policy: string; path?: string }>;
      };
      expect(reply.status).toBe(403);
      expect(reply.explain.find((e) => e.policy === 'read-only-patients')?.path).toBe('request-method');
      expect(JSON.stringify(reply)).not.toContain(t);
    });
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
