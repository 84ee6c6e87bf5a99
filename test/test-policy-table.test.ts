import { freePort, type ServiceProcess, startNats, startService, type TestServer } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `POST /$test-policy` of the built config service (a real process against a real NATS), one row
// per engine and per matcho operator, with link/roleName applicability and YAML bodies: what the
// console's "Test a policy" page relies on.

let nats: TestServer;
let config: ServiceProcess;
let url: string;
const password = `pw-${Math.random().toString(36).slice(2)}`;
const auth = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;

beforeAll(async () => {
  nats = await startNats();
  const port = await freePort();
  config = await startService('config', {
    NATS_URL: nats.url,
    CONFIG_PORT: String(port),
    CONFIG_ADMIN_PASSWORD: password,
  });
  url = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await config?.stop();
  await nats?.dispose();
});

interface TestPolicyReply {
  result: boolean;
  applicable: boolean;
  explain: Array<{ policy: string; engine: string; result: boolean; path?: string; children?: unknown[] }>;
}

async function testPolicy(
  body: string,
  contentType: string,
): Promise<{ status: number; body: TestPolicyReply }> {
  const res = await fetch(`${url}/$test-policy`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': contentType },
    body,
  });
  return { status: res.status, body: (await res.json()) as TestPolicyReply };
}

const matcho = (pattern: Record<string, unknown>) => ({ engine: 'matcho', matcho: pattern });

/** The request context every matcho row is tested against (DESIGN §6 shape). */
const CONTEXT = {
  'request-method': 'get',
  uri: '/fhir/Patient/pt-1',
  'query-string': 'name=smith',
  params: { name: 'smith', 'resource/type': 'Patient', 'resource/id': 'pt-1' },
  headers: { 'x-tenant': 'acme', 'content-type': 'application/json' },
  jwt: {
    iss: 'https://auth.example.com',
    sub: 'alice',
    scope: ['patient/*.read', 'openid'],
    n: 42,
    admin: true,
  },
  user: { id: 'alice', data: { patient: 'Patient/pt-1', tags: ['a', 'b', 'c'] } },
  role: [{ name: 'reader' }, { name: 'auditor' }],
  body: {
    subject: { reference: 'Patient/pt-1' },
    items: [
      { code: 'x', ok: true },
      { code: 'y', ok: true },
    ],
  },
  blank: '   ',
};

/** [what, policy (without resourceType), expected result, expected explain path when it fails] */
type Row = [string, Record<string, unknown>, boolean, string?];

const ENGINES: Row[] = [
  ['allow allows anything', { engine: 'allow' }, true],
  [
    'json-schema that holds',
    { engine: 'json-schema', schema: { required: ['jwt'], properties: { jwt: { required: ['iss'] } } } },
    true,
  ],
  [
    'json-schema with the Aidbox `constant` alias, failing',
    {
      engine: 'json-schema',
      schema: { properties: { jwt: { properties: { iss: { constant: 'https://evil.example' } } } } },
    },
    false,
  ],
  ['matcho that holds', matcho({ 'request-method': 'get' }), true],
  [
    'complex and: all true',
    { engine: 'complex', and: [{ engine: 'allow' }, matcho({ jwt: { sub: 'alice' } })] },
    true,
  ],
  [
    'complex and: one false',
    { engine: 'complex', and: [{ engine: 'allow' }, matcho({ jwt: { sub: 'bob' } })] },
    false,
  ],
  [
    'complex or: one true',
    { engine: 'complex', or: [matcho({ jwt: { sub: 'bob' } }), matcho({ jwt: { sub: 'alice' } })] },
    true,
  ],
  [
    'complex nested or inside and, false',
    {
      engine: 'complex',
      and: [
        matcho({ 'request-method': 'get' }),
        { engine: 'complex', or: [matcho({ uri: '#^/admin' }), matcho({ jwt: { sub: 'bob' } })] },
      ],
    },
    false,
  ],
];

const OPERATORS: Row[] = [
  [
    'subset map: extra keys in the context are fine',
    matcho({ jwt: { iss: 'https://auth.example.com' } }),
    true,
  ],
  ['subset map: a key the context lacks', matcho({ jwt: { aud: 'api' } }), false, 'jwt.aud'],
  ['positional array: a prefix', matcho({ jwt: { scope: ['patient/*.read'] } }), true],
  [
    'positional array: wrong order',
    matcho({ jwt: { scope: ['openid', 'patient/*.read'] } }),
    false,
    'jwt.scope[0]',
  ],
  ['scalar string', matcho({ 'request-method': 'post' }), false, 'request-method'],
  ['scalar number', matcho({ jwt: { n: 42 } }), true],
  ['scalar boolean', matcho({ jwt: { admin: true } }), true],
  ['#regex search', matcho({ uri: '#^/fhir/Patient/' }), true],
  ['#regex miss', matcho({ uri: '#^/fhir/Observation' }), false, 'uri'],
  ['present? on a present field', matcho({ jwt: { sub: 'present?' } }), true],
  ['present? on an absent field', matcho({ jwt: { azp: 'present?' } }), false, 'jwt.azp'],
  ['nil? on an absent field', matcho({ jwt: { azp: 'nil?' } }), true],
  ['nil? on a present field', matcho({ jwt: { sub: 'nil?' } }), false, 'jwt.sub'],
  ['not-blank? on text', matcho({ headers: { 'x-tenant': 'not-blank?' } }), true],
  ['not-blank? on spaces', matcho({ blank: 'not-blank?' }), false, 'blank'],
  ['.path reference that matches', matcho({ user: { id: '.jwt.sub' } }), true],
  [
    '.path reference with a slash key',
    matcho({ params: { 'resource/id': '.body.subject.reference' } }),
    false,
  ],
  ['.path reference with a numeric index', matcho({ user: { data: { tags: ['.user.data.tags.0'] } } }), true],
  ['$enum member', matcho({ 'request-method': { $enum: ['get', 'head'] } }), true],
  ['$enum non-member', matcho({ 'request-method': { $enum: ['post', 'put'] } }), false, 'request-method'],
  ['$one-of', matcho({ jwt: { '$one-of': [{ sub: 'bob' }, { sub: 'alice' }] } }), true],
  ['$one-of: none', matcho({ jwt: { '$one-of': [{ sub: 'bob' }, { sub: 'carol' }] } }), false, 'jwt'],
  ['$contains', matcho({ jwt: { scope: { $contains: 'openid' } } }), true],
  ['$contains: none', matcho({ role: { $contains: { name: 'admin' } } }), false, 'role'],
  ['$every', matcho({ body: { items: { $every: { ok: true } } } }), true],
  ['$every: one fails', matcho({ body: { items: { $every: { code: 'x' } } } }), false, 'body.items[1].code'],
  ['$not', matcho({ 'request-method': { $not: 'delete' } }), true],
  ['$not: matched', matcho({ 'request-method': { $not: 'get' } }), false, 'request-method'],
  [
    '$reference',
    matcho({ body: { subject: { $reference: { resourceType: 'Patient', id: '.params.resource/id' } } } }),
    true,
  ],
  [
    '$reference: another type',
    matcho({ user: { data: { patient: { $reference: { resourceType: 'Group' } } } } }),
    false,
  ],
  ['$present-all', matcho({ role: { '$present-all': [{ name: 'auditor' }, { name: 'reader' }] } }), true],
  [
    '$present-all: one missing',
    matcho({ role: { '$present-all': [{ name: 'reader' }, { name: 'admin' }] } }),
    false,
  ],
  ['$length', matcho({ user: { data: { tags: { $length: 3 } } } }), true],
  ['$length: other', matcho({ jwt: { scope: { $length: 1 } } }), false, 'jwt.scope'],
];

describe('POST /$test-policy of the running config service', () => {
  it.each([...ENGINES, ...OPERATORS])('%s', async (_name, policy, result, path) => {
    const { status, body } = await testPolicy(
      JSON.stringify({ policy: { resourceType: 'AccessPolicy', ...policy }, context: CONTEXT }),
      'application/json',
    );
    expect(status).toBe(200);
    expect(body).toMatchObject({ result, applicable: true });
    expect(body.explain).toHaveLength(1);
    expect(body.explain[0]).toMatchObject({ policy: 'test-policy', engine: policy.engine, result });
    if (path !== undefined) expect(body.explain[0]?.path).toBe(path);
    if (policy.engine === 'complex') expect(body.explain[0]?.children?.length).toBeGreaterThan(0);
  });

  /** [what, link/roleName, context, applicable] — the policy itself always allows. */
  it.each<[string, Record<string, unknown>, Record<string, unknown>, boolean]>([
    ['no link: applicable to anyone', {}, {}, true],
    [
      'link naming the user',
      { link: [{ resourceType: 'User', id: 'alice' }] },
      { user: { id: 'alice' } },
      true,
    ],
    [
      'link naming another user',
      { link: [{ resourceType: 'User', id: 'bob' }] },
      { user: { id: 'alice' } },
      false,
    ],
    [
      'link naming the client',
      { link: [{ resourceType: 'Client', id: 'app' }] },
      { client: { id: 'app' } },
      true,
    ],
    [
      'link naming the operation',
      { link: [{ reference: 'Operation/read-patient' }] },
      { operation: { id: 'read-patient' } },
      true,
    ],
    ['link and no identity at all', { link: [{ resourceType: 'User', id: 'alice' }] }, {}, false],
    ['roleName held as a Role', { roleName: 'reader' }, { role: [{ name: 'reader' }] }, true],
    ['roleName held as a string', { roleName: 'reader' }, { role: ['reader'] }, true],
    ['roleName not held', { roleName: 'admin' }, { role: [{ name: 'reader' }] }, false],
    [
      'link and roleName both satisfied',
      { link: [{ resourceType: 'User', id: 'alice' }], roleName: 'reader' },
      { user: { id: 'alice' }, role: [{ name: 'reader' }] },
      true,
    ],
  ])('applicability: %s', async (_name, scope, context, applicable) => {
    const { status, body } = await testPolicy(
      JSON.stringify({ policy: { resourceType: 'AccessPolicy', engine: 'allow', ...scope }, context }),
      'application/json',
    );
    expect(status).toBe(200);
    expect(body).toMatchObject({ applicable, result: applicable });
  });

  it.each(['text/yaml', 'application/yaml', 'application/x-yaml'])('reads a YAML body (%s)', async (type) => {
    const yaml = `# pasted from the console
policy:
  resourceType: AccessPolicy
  id: yaml-policy
  engine: matcho
  matcho:
    request-method: get
    uri: "#^/fhir/Patient"
    jwt:
      scope:
        $contains: openid
context:
  request-method: get
  uri: /fhir/Patient/pt-1
  jwt:
    scope: [openid]
  anything-else: allowed  # other top-level keys are accepted
`;
    const { status, body } = await testPolicy(yaml, type);
    expect(status).toBe(200);
    expect(body).toMatchObject({ result: true, applicable: true, explain: [{ policy: 'yaml-policy' }] });
  });

  it.each([
    ['an unknown operator', matcho({ uri: { $bogus: 1 } }), 'AccessPolicy.matcho.uri.$bogus'],
    ['an engine that is refused', { engine: 'sql', sql: { query: 'select 1' } }, 'AccessPolicy.engine'],
  ])('answers 422 for %s, naming the field', async (_name, policy, expression) => {
    const res = await fetch(`${url}/$test-policy`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ policy, context: {} }),
    });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as { issue: Array<{ expression?: string[] }> };
    expect(outcome.issue.map((i) => i.expression?.[0])).toContain(expression);
  });
});
