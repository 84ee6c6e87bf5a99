import { generateKeyPairSync } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { ResolveAll } from '@authz/verifier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realEngines } from './engines.js';
import { ADMIN, type ConfigFixture, startConfigFixture } from './testing/fixture.js';

// DESIGN §11 at PUT time: HMAC secrets that are really public keys are refused, fetch targets at
// forbidden addresses are refused, accepted risks are named in X-Authz-Warning; and admin HTTP
// Basic guessing is throttled per address.

let config: ConfigFixture;
beforeAll(async () => {
  config = await startConfigFixture();
});
afterAll(async () => {
  await config?.close();
});

const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const der = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const jwk = JSON.stringify(publicKey.export({ format: 'jwk' }));

const put = (id: string, body: unknown) =>
  config.request(`/TokenIntrospector/${id}`, {
    method: 'PUT',
    body: JSON.stringify({ resourceType: 'TokenIntrospector', ...(body as object) }),
    headers: { 'content-type': 'application/json' },
  });

describe('HMAC secrets that parse as keys (algorithm confusion by configuration)', () => {
  it.each([
    ['a PEM public key', pem, /is a PEM block/],
    ['a JWK', jwk, /is a JWK/],
    ['base64 DER of a public key', der, /base64 DER public key or certificate/],
  ])('refuses jwt.secret holding %s with 422 naming jwt.secret', async (_n, secret, message) => {
    const res = await put('confused', { type: 'jwt', jwt: { iss: 'https://idp', secret } });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as { issue: Array<{ expression: string[]; diagnostics: string }> };
    expect(outcome.issue).toHaveLength(1);
    expect(outcome.issue[0]?.expression).toEqual(['TokenIntrospector.jwt.secret']);
    expect(outcome.issue[0]?.diagnostics).toMatch(message);
  });

  it('refuses a kty OCT key in format plain that is a PEM, naming jwt.keys[0].k', async () => {
    const res = await put('confused-oct', {
      type: 'jwt',
      jwt: { iss: 'https://idp', keys: [{ kty: 'OCT', alg: 'HS256', format: 'plain', k: pem }] },
    });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as { issue: Array<{ expression: string[] }> };
    expect(outcome.issue[0]?.expression).toEqual(['TokenIntrospector.jwt.keys[0].k']);
  });

  it('still accepts an ordinary secret, such as the seed very-secret', async () => {
    const res = await put('seed', { type: 'jwt', jwt: { iss: 'https://idp', secret: 'very-secret' } });
    expect(res.status).toBe(201);
  });

  it('refuses jwt.max_lifetime outside 1..31536000 with 422 naming it', async () => {
    const res = await put('eternal', {
      type: 'jwt',
      jwt: { iss: 'https://idp', secret: 'very-secret', max_lifetime: 0 },
    });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as { issue: Array<{ expression: string[] }> };
    expect(outcome.issue[0]?.expression).toEqual(['TokenIntrospector.jwt.max_lifetime']);
  });
});

type Outcome = { issue: Array<{ expression: string[]; diagnostics: string }> };

describe('fetch safety at PUT (DESIGN §11)', () => {
  it.each([
    ['jwks_uri', 'http://169.254.169.254/jwks', { type: 'jwt', jwt: { iss: 'https://idp' } }, 'link-local'],
    ['jwks_uri', 'https://[fe80::1]/jwks', { type: 'jwt', jwt: { iss: 'https://idp' } }, 'link-local'],
    ['jwks_uri', 'https://0.0.0.0/jwks', { type: 'jwt', jwt: { iss: 'https://idp' } }, 'unspecified'],
    ['introspection_endpoint.url', 'https://224.0.0.1/introspect', { type: 'opaque' }, 'multicast'],
    [
      'introspection_endpoint.url',
      'http://[::ffff:169.254.169.254]/introspect',
      { type: 'opaque' },
      'link-local',
    ],
  ])('refuses %s at %s with 422 naming the field', async (field, url, base, what) => {
    const body =
      field === 'jwks_uri' ? { ...base, jwks_uri: url } : { ...base, introspection_endpoint: { url } };
    const res = await put('metadata', body);
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as Outcome;
    expect(outcome.issue.map((i) => i.expression)).toContainEqual([`TokenIntrospector.${field}`]);
    expect(JSON.stringify(outcome)).toContain(what);
  });

  it('refuses jwt.discovery of an issuer at a link-local address, naming jwt.discovery', async () => {
    const res = await put('metadata', {
      type: 'jwt',
      jwt: { iss: 'https://169.254.169.254', discovery: true },
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as Outcome).issue[0]?.expression).toEqual(['TokenIntrospector.jwt.discovery']);
  });

  it('accepts loopback and private addresses (IdPs live there)', async () => {
    for (const url of [
      'http://localhost:9/introspect',
      'https://10.1.2.3/introspect',
      'https://192.168.1.1/i',
    ]) {
      const res = await put('private-idp', {
        type: 'opaque',
        introspection_endpoint: { url, token_prefix: 'p-' },
      });
      expect(res.status).toBeLessThan(300);
    }
  });
});

describe('X-Authz-Warning on accepted risks (DESIGN §11)', () => {
  it('warns when a second opaque introspector without token_prefix would also receive every token', async () => {
    const first = await put('warn-a', {
      type: 'opaque',
      introspection_endpoint: { url: 'https://a.example/i' },
    });
    expect(first.status).toBe(201);
    const second = await put('warn-b', {
      type: 'opaque',
      introspection_endpoint: { url: 'https://b.example/i' },
    });
    expect(second.status).toBe(201);
    const warning = second.headers.get('x-authz-warning') ?? '';
    expect(warning).toMatch(/^299 authz "TokenIntrospector\/warn-b and TokenIntrospector\/warn-a/);
    expect(warning).toContain('token_prefix');
    // With prefixes the risk is gone: no header.
    const prefixed = await put('warn-b', {
      type: 'opaque',
      introspection_endpoint: { url: 'https://b.example/i', token_prefix: 'b-' },
    });
    expect(prefixed.status).toBe(200);
    expect(prefixed.headers.get('x-authz-warning')).toBeNull();
    expect((await config.request('/TokenIntrospector/warn-a', { method: 'DELETE' })).status).toBe(200);
    expect((await config.request('/TokenIntrospector/warn-b', { method: 'DELETE' })).status).toBe(200);
  });

  it('accepts the seed very-secret with a warning that it is shorter than the HS256 output', async () => {
    const res = await put('seed-warn', { type: 'jwt', jwt: { iss: 'https://idp', secret: 'very-secret' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-authz-warning')).toMatch(
      /^299 authz "jwt\.secret is 11 bytes, shorter than the 32-byte output of HS256/,
    );
    const strong = await put('strong', {
      type: 'jwt',
      jwt: { iss: 'https://idp', secret: 'a-secret-of-at-least-thirty-two-bytes!' },
    });
    expect(strong.status).toBe(201);
    expect(strong.headers.get('x-authz-warning')).toBeNull();
  });
});

describe('admin HTTP Basic throttling (DESIGN §11)', () => {
  /** One request from a chosen loopback address (127.0.0.0/8 is all loopback on Linux). */
  const from = (localAddress: string, password: string) =>
    new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
      const url = new URL(`${config.url}/TokenIntrospector`);
      const authorization = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
      const req = httpRequest(url, { localAddress, headers: { authorization } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
      });
      req.on('error', reject);
      req.end();
    });

  it('refuses 150 wrong passwords from one address (429, Retry-After) while the right one works from another', async () => {
    const answers = await Promise.all(Array.from({ length: 150 }, () => from('127.0.0.2', 'guess')));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(145);
    expect(Number(answers.find((a) => a.status === 429)?.retryAfter)).toBeGreaterThan(0);
    // The right password from the throttled address waits too; from a fresh address it passes.
    expect((await from('127.0.0.2', ADMIN.password)).status).toBe(429);
    expect((await from('127.0.0.3', ADMIN.password)).status).toBe(200);
  });
});

describe('fetch safety at PUT: host names resolved (DESIGN §11)', () => {
  // An offline resolver stands in for DNS: metadata.test is a name for the cloud metadata address.
  const resolve: ResolveAll = (hostname, callback) =>
    hostname === 'metadata.test'
      ? callback(null, [{ address: '169.254.169.254', family: 4 }])
      : callback(null, [{ address: '10.0.0.8', family: 4 }]);
  let resolving: ConfigFixture;
  beforeAll(async () => {
    resolving = await startConfigFixture({ nats: config.nats, engines: realEngines({ resolve }) });
  });
  afterAll(async () => {
    await resolving?.close();
  });
  const send = (path: string, method: string, body: unknown) =>
    resolving.request(path, {
      method,
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });

  it.each([
    ['jwks_uri', { type: 'jwt', jwt: { iss: 'https://idp' }, jwks_uri: 'https://metadata.test/jwks' }],
    [
      'introspection_endpoint.url',
      { type: 'opaque', introspection_endpoint: { url: 'https://metadata.test/i' } },
    ],
    ['jwt.discovery', { type: 'jwt', jwt: { iss: 'https://metadata.test', discovery: true } }],
  ])('refuses %s whose host resolves to 169.254.169.254 with 422 naming it', async (field, body) => {
    const res = await send('/TokenIntrospector/dns-meta', 'PUT', body);
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as Outcome;
    expect(outcome.issue[0]?.expression).toEqual([`TokenIntrospector.${field}`]);
    expect(outcome.issue[0]?.diagnostics).toContain('metadata.test → 169.254.169.254');
  });

  it('refuses the same in a transaction Bundle, naming the entry and field', async () => {
    const res = await send('/', 'POST', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          request: { method: 'PUT', url: 'TokenIntrospector/dns-meta' },
          resource: { type: 'jwt', jwt: { iss: 'https://idp' }, jwks_uri: 'https://metadata.test/jwks' },
        },
      ],
    });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as Outcome;
    expect(outcome.issue[0]?.expression).toEqual(['Bundle.entry[0].resource.jwks_uri']);
  });

  it('accepts a host resolving to a private address', async () => {
    const res = await send('/TokenIntrospector/dns-private', 'PUT', {
      type: 'jwt',
      jwt: { iss: 'https://idp' },
      jwks_uri: 'https://idp.internal/jwks',
    });
    expect(res.status).toBe(201);
  });
});
