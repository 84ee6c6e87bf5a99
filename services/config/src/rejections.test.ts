import { request as httpRequest } from 'node:http';
import { MAX_RESOURCE_BYTES } from '@authz/protocol';
import { SEED_INTROSPECTOR_KEYS, SEED_INTROSPECTOR_SECRET, SEED_POLICY_OPAQUE } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigFixture, startConfigFixture } from './testing/fixture.js';

let config: ConfigFixture;
let snapshot: Record<string, unknown>;

// One valid resource under every id the rejected writes aim at: a refusal must leave it as is.
const EXISTING = [
  ['TokenIntrospector', 'external-auth-server', SEED_INTROSPECTOR_SECRET],
  ['AccessPolicy', 'p', 'engine: allow\n'],
  ['User', 'u', '{"name": "kept"}'],
  ['Role', 'r', '{"name": "admin", "user": {"id": "u"}}'],
] as const;

beforeAll(async () => {
  config = await startConfigFixture();
  for (const [type, id, body] of EXISTING) {
    const res = await config.request(`/${type}/${id}`, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'text/yaml' },
    });
    expect(res.status).toBe(201);
  }
  snapshot = await everything();
});
afterAll(async () => {
  await config?.close();
});

async function everything(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of await config.keys()) out[key] = (await config.kv.get(key))?.json();
  return out;
}

const jwt = (extra: string) => `type: jwt\njwt:\n  iss: https://auth.example.com\n${extra}`;
const BAD_PEM = '"-----BEGIN PUBLIC KEY-----\\nnotakey\\n-----END PUBLIC KEY-----"';
const ALIAS_BOMB = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
`;

interface Row {
  name: string;
  path: string;
  body: string;
  type?: string;
  method?: string;
  status: number;
  issue: { code: string; diagnostics: string | RegExp; expression?: string[] };
}

const rows: Row[] = [
  {
    name: 'bad YAML, naming the line',
    path: '/User/u',
    body: 'name: x\ndata:\n  a: [1, 2\nb: 3\n',
    status: 400,
    issue: { code: 'structure', diagnostics: /^YAML error at line 4, column 1: Flow sequence/ },
  },
  {
    name: 'duplicate YAML keys (the seed keys example)',
    path: '/TokenIntrospector/external-auth-server',
    body: SEED_INTROSPECTOR_KEYS,
    status: 400,
    issue: { code: 'structure', diagnostics: 'YAML error at line 3, column 1: Map keys must be unique' },
  },
  {
    name: "the seed opaque policy whose // lines aren't comments",
    path: '/AccessPolicy/p',
    body: SEED_POLICY_OPAQUE,
    status: 400,
    issue: {
      code: 'structure',
      diagnostics: 'YAML error at line 3, column 3: Implicit keys need to be on a single line',
    },
  },
  {
    name: 'an alias bomb',
    path: '/User/u',
    body: ALIAS_BOMB,
    status: 400,
    issue: {
      code: 'structure',
      diagnostics: 'YAML error: Excessive alias count indicates a resource exhaustion attack',
    },
  },
  {
    name: 'a body id differing from the URL id',
    path: '/User/u',
    body: 'resourceType: User\nid: someone-else\n',
    status: 422,
    issue: {
      code: 'value',
      diagnostics: 'id "someone-else" in the body differs from "u" in the URL',
      expression: ['User.id'],
    },
  },
  {
    name: 'a body resourceType differing from the URL',
    path: '/User/u',
    body: 'resourceType: Client\n',
    status: 422,
    issue: {
      code: 'value',
      diagnostics: 'resourceType "Client" in the body differs from User in the URL',
      expression: ['User.resourceType'],
    },
  },
  {
    name: 'a jwt introspector with two key sources',
    path: '/TokenIntrospector/external-auth-server',
    body: jwt('  secret: very-secret\njwks_uri: https://auth.example.com/jwks\n'),
    status: 422,
    issue: {
      code: 'invalid',
      diagnostics:
        'needs exactly one of jwt.secret, jwks_uri, jwt.keys, jwt.discovery (found jwt.secret and jwks_uri)',
      expression: ['TokenIntrospector.jwt'],
    },
  },
  {
    name: 'a jwt introspector with no key source',
    path: '/TokenIntrospector/external-auth-server',
    body: jwt(''),
    status: 422,
    issue: {
      code: 'invalid',
      diagnostics: 'needs exactly one of jwt.secret, jwks_uri, jwt.keys, jwt.discovery (none is given)',
      expression: ['TokenIntrospector.jwt'],
    },
  },
  {
    name: 'a bad PEM',
    path: '/TokenIntrospector/external-auth-server',
    body: jwt(`  keys:\n    - {kty: RSA, alg: RS256, format: PEM, pub: ${BAD_PEM}}\n`),
    status: 422,
    issue: {
      code: 'invalid',
      diagnostics: 'is not a valid PEM public key: its DER content does not parse',
      expression: ['TokenIntrospector.jwt.keys[0].pub'],
    },
  },
  {
    name: 'an unknown key algorithm',
    path: '/TokenIntrospector/external-auth-server',
    body: jwt('  keys:\n    - {kty: RSA, alg: RS999, format: PEM, pub: x}\n'),
    status: 422,
    issue: {
      code: 'value',
      diagnostics: /^must be one of: HS256, HS384/,
      expression: ['TokenIntrospector.jwt.keys[0].alg'],
    },
  },
  {
    name: 'a plain-http jwks_uri',
    path: '/TokenIntrospector/external-auth-server',
    body: jwt('jwks_uri: http://idp.example.com/jwks\n'),
    status: 422,
    issue: {
      code: 'invalid',
      diagnostics: 'uses plain http for idp.example.com: use https, or list the host in AUTHZ_INSECURE_HOSTS',
      expression: ['TokenIntrospector.jwks_uri'],
    },
  },
  {
    name: 'an unknown field',
    path: '/TokenIntrospector/external-auth-server',
    body: jwt('  secret: s\nsecrets: oops\n'),
    status: 422,
    issue: {
      code: 'structure',
      diagnostics: 'is not a known field here',
      expression: ['TokenIntrospector.secrets'],
    },
  },
  {
    name: 'the unsupported engine sql',
    path: '/AccessPolicy/p',
    body: 'engine: sql\nsql:\n  query: select true\n',
    status: 422,
    issue: {
      code: 'not-supported',
      diagnostics: /^engine "sql" is not supported/,
      expression: ['AccessPolicy.engine'],
    },
  },
  {
    name: 'an unknown matcho operator',
    path: '/AccessPolicy/p',
    body: 'engine: matcho\nmatcho:\n  uri: {$bogus: 1}\n',
    status: 422,
    issue: {
      code: 'invalid',
      diagnostics: 'unknown matcho operator $bogus',
      expression: ['AccessPolicy.matcho.uri.$bogus'],
    },
  },
  {
    name: 'a Role whose user is not a User',
    path: '/Role/r',
    body: '{"name": "admin", "user": {"resourceType": "Client", "id": "x"}}',
    type: 'application/json',
    status: 422,
    issue: { code: 'value', diagnostics: /^must reference a User/, expression: ['Role.user'] },
  },
  {
    name: 'a body that is not an object',
    path: '/User/u',
    body: '[1, 2]',
    type: 'application/json',
    status: 422,
    issue: {
      code: 'structure',
      diagnostics: 'the body must be an object (a resource)',
      expression: ['User'],
    },
  },
  {
    name: 'a media type other than JSON or YAML',
    path: '/User/u',
    body: 'name=x',
    type: 'application/x-www-form-urlencoded',
    status: 415,
    issue: {
      code: 'not-supported',
      diagnostics: /^content type application\/x-www-form-urlencoded is not supported/,
    },
  },
  {
    name: 'an invalid id',
    path: '/User/a..b',
    body: '{}',
    type: 'application/json',
    status: 400,
    issue: { code: 'value', diagnostics: /^id "a\.\.b" is not valid/ },
  },
  {
    name: 'an id longer than 255',
    path: `/User/${'a'.repeat(256)}`,
    body: '{}',
    type: 'application/json',
    status: 400,
    issue: { code: 'value', diagnostics: /is not valid: use 1-255 of/ },
  },
  {
    name: 'an unknown resource type',
    path: '/Patient/p',
    body: '{}',
    type: 'application/json',
    status: 404,
    issue: { code: 'not-found', diagnostics: /^unknown resource type "Patient"/ },
  },
  {
    name: 'PATCH with a plain JSON body (DESIGN §12: merge-patch or json-patch only)',
    method: 'PATCH',
    path: '/User/u',
    body: '{}',
    type: 'application/json',
    status: 415,
    issue: {
      code: 'not-supported',
      diagnostics:
        'PATCH takes application/merge-patch+json (RFC 7386) or application/json-patch+json (RFC 6902), not application/json',
    },
  },
];

describe('writes refused, storing nothing', () => {
  it.each(rows)('$name → $status', async (row) => {
    const res = await config.request(row.path, {
      method: row.method ?? 'PUT',
      body: row.body,
      headers: { 'content-type': row.type ?? 'text/yaml' },
    });
    expect(res.status).toBe(row.status);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const outcome = (await res.json()) as { resourceType: string; issue: Array<Record<string, unknown>> };
    expect(outcome.resourceType).toBe('OperationOutcome');
    const { diagnostics, ...rest } = row.issue;
    expect(outcome.issue[0]).toMatchObject({ severity: 'error', ...rest });
    if (!row.issue.expression) expect(outcome.issue[0]?.expression).toBeUndefined();
    if (typeof diagnostics === 'string') expect(outcome.issue[0]?.diagnostics).toBe(diagnostics);
    else expect(outcome.issue[0]?.diagnostics).toMatch(diagnostics);
    if (row.status === 405) expect(res.headers.get('allow')).toBe('GET, PUT, DELETE');
    expect(await everything()).toEqual(snapshot);
  });

  it('reports every schema problem of a resource at once', async () => {
    const res = await config.request('/TokenIntrospector/external-auth-server', {
      method: 'PUT',
      body: jwt('  secret: s\ncache_ttl: 0\nfoo: 1\n'),
      headers: { 'content-type': 'text/yaml' },
    });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as { issue: Array<{ expression: string[] }> };
    expect(outcome.issue.map((i) => i.expression[0])).toEqual([
      'TokenIntrospector.foo',
      'TokenIntrospector.cache_ttl',
    ]);
    expect(await everything()).toEqual(snapshot);
  });

  it('refuses a body over MAX_RESOURCE_BYTES with 413 without reading it all', async () => {
    const size = MAX_RESOURCE_BYTES + 1;
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${config.url}/User/u`, {
        method: 'PUT',
        headers: {
          authorization: `Basic ${Buffer.from('admin:test-admin-password').toString('base64')}`,
          'content-type': 'application/json',
          'content-length': size,
        },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      // Only the first bytes are sent: the refusal must come from Content-Length alone.
      req.write('{"name": "');
    });
    expect(status).toBe(413);
    expect(JSON.parse(body).issue[0]).toMatchObject({
      code: 'too-long',
      diagnostics: `the request body exceeds ${MAX_RESOURCE_BYTES} bytes`,
    });
    expect(await everything()).toEqual(snapshot);
  });

  it('refuses a chunked body once it crosses MAX_RESOURCE_BYTES with 413', async () => {
    const res = await config.request('/User/u', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
          for (let i = 0; i < 20; i++) controller.enqueue(chunk);
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await everything()).toEqual(snapshot);
  });
});
