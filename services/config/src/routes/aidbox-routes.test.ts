import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigFixture, startConfigFixture } from '../testing/fixture.js';

// DESIGN §12: the config API speaks Aidbox's routes too (real NATS KV behind the fixture).
let config: ConfigFixture;
beforeAll(async () => {
  config = await startConfigFixture();
});
afterAll(async () => {
  await config?.close();
});

const json = (body: unknown, type = 'application/json') => ({
  body: JSON.stringify(body),
  headers: { 'content-type': type },
});
const longId = 'as-practitioner-allowed-to-create-observations-for-their-patients-and-more-x';

describe('/fhir/{type}[/{id}] and PATCH', () => {
  it('PUT /fhir/AccessPolicy/x stores what GET /AccessPolicy/x reads (ids up to 255)', async () => {
    expect(longId.length).toBeGreaterThan(64);
    const put = await config.request(`/fhir/AccessPolicy/${longId}`, {
      method: 'PUT',
      ...json({ resourceType: 'AccessPolicy', engine: 'allow' }),
    });
    expect(put.status).toBe(201);
    const got = await config.request(`/AccessPolicy/${longId}`);
    expect(await got.json()).toMatchObject({ id: longId, engine: 'allow' });
    expect((await config.request('/fhir/AccessPolicy')).status).toBe(200);
  });

  it('merge-patches (RFC 7386) and JSON-patches (RFC 6902) with If-Match', async () => {
    const put = await config.request('/User/pat', {
      method: 'PUT',
      ...json({ resourceType: 'User', data: { a: 1, b: 2 } }),
    });
    const v1 = put.headers.get('etag') as string;
    const merged = await config.request('/fhir/User/pat', {
      method: 'PATCH',
      ...json({ data: { a: null, c: 3 } }, 'application/merge-patch+json'),
      headers: { 'content-type': 'application/merge-patch+json', 'if-match': v1 },
    });
    expect(merged.status).toBe(200);
    expect(await merged.json()).toMatchObject({ data: { b: 2, c: 3 } });
    const stale = await config.request('/User/pat', {
      method: 'PATCH',
      body: JSON.stringify([{ op: 'add', path: '/data/d', value: 4 }]),
      headers: { 'content-type': 'application/json-patch+json', 'if-match': v1 },
    });
    expect(stale.status).toBe(412);
    const v2 = merged.headers.get('etag') as string;
    const patched = await config.request('/User/pat', {
      method: 'PATCH',
      body: JSON.stringify([
        { op: 'test', path: '/data/b', value: 2 },
        { op: 'add', path: '/data/d', value: 4 },
      ]),
      headers: { 'content-type': 'application/json-patch+json', 'if-match': v2 },
    });
    expect(patched.status).toBe(200);
    expect((await patched.json()).data).toEqual({ b: 2, c: 3, d: 4 });
    const failed = await config.request('/User/pat', {
      method: 'PATCH',
      body: JSON.stringify([{ op: 'test', path: '/data/b', value: 99 }]),
      headers: { 'content-type': 'application/json-patch+json' },
    });
    expect(failed.status).toBe(422);
    expect((await failed.json()).issue[0].diagnostics).toMatch(
      /the JSON Patch cannot be applied \(operation 0\)/,
    );
  });

  it('refuses a patch that makes the resource invalid, and other media types', async () => {
    await config.request('/AccessPolicy/pp', {
      method: 'PUT',
      ...json({ resourceType: 'AccessPolicy', engine: 'allow' }),
    });
    const invalid = await config.request('/AccessPolicy/pp', {
      method: 'PATCH',
      ...json({ engine: 'sql' }, 'application/merge-patch+json'),
    });
    expect(invalid.status).toBe(422);
    const plain = await config.request('/AccessPolicy/pp', { method: 'PATCH', ...json({ engine: 'allow' }) });
    expect(plain.status).toBe(415);
    expect(
      (
        await config.request('/AccessPolicy/nope', {
          method: 'PATCH',
          ...json({ engine: 'allow' }, 'application/merge-patch+json'),
        })
      ).status,
    ).toBe(404);
  });
});

describe('POST /auth/test-policy (Aidbox body)', () => {
  const jwt = (claims: Record<string, unknown>) =>
    `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

  it('resolves the Operation, decodes the JWT unverified, reads user-id and client-id', async () => {
    await config.request('/User/u-pt', {
      method: 'PUT',
      ...json({ resourceType: 'User', fhirUser: { id: 'pt-1' } }),
    });
    await config.request('/Client/client-1', {
      method: 'PUT',
      ...json({ resourceType: 'Client', secret: 'client-secret', grant_types: ['basic'] }),
    });
    const body = {
      policy: {
        engine: 'matcho',
        link: [{ reference: 'Operation/FhirRead' }],
        matcho: {
          params: { 'resource/id': '.user.fhirUser.id' },
          jwt: { pid: 'pt-1' },
          client: { id: 'client-1', secret: 'nil?' },
        },
      },
      request: {
        uri: '/fhir/Patient/pt-1',
        'request-method': 'get',
        headers: { authorization: `Bearer ${jwt({ pid: 'pt-1' })}` },
      },
      'user-id': 'u-pt',
      'client-id': 'client-1',
    };
    const res = await config.request('/auth/test-policy', { method: 'POST', ...json(body) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ result: true, applicable: true });
    const search = { ...body, request: { ...body.request, uri: '/fhir/Patient' } };
    const other = await config.request('/auth/test-policy', { method: 'POST', ...json(search) });
    expect(await other.json()).toMatchObject({ result: false, applicable: false });
  });

  it("grants the user's Roles as a worker does: roleName and matcho on role apply", async () => {
    await config.request('/User/u-admin', { method: 'PUT', ...json({ resourceType: 'User' }) });
    await config.request('/User/u-plain', { method: 'PUT', ...json({ resourceType: 'User' }) });
    await config.request('/Role/r-admin', {
      method: 'PUT',
      ...json({ resourceType: 'Role', name: 'admin', user: { reference: 'User/u-admin' } }),
    });
    await config.request('/Role/r-other', {
      method: 'PUT',
      ...json({ resourceType: 'Role', name: 'admin', user: { reference: 'User/u-plain-not' } }),
    });
    const ask = async (policy: Record<string, unknown>, user: Record<string, unknown>) => {
      const request = { uri: '/fhir/Patient', 'request-method': 'get' };
      const res = await config.request('/auth/test-policy', {
        method: 'POST',
        ...json({ policy, request, ...user }),
      });
      expect(res.status).toBe(200);
      return res.json();
    };
    const byRoleName = { engine: 'allow', roleName: 'admin' };
    expect(await ask(byRoleName, { 'user-id': 'u-admin' })).toMatchObject({ result: true, applicable: true });
    expect(await ask(byRoleName, { 'user-id': 'u-plain' })).toMatchObject({
      result: false,
      applicable: false,
    });
    // An inline user gets its stored Roles too (Aidbox resolves them for the user given).
    expect(await ask(byRoleName, { user: { id: 'u-admin' } })).toMatchObject({ result: true });
    const byMatcho = { engine: 'matcho', matcho: { role: { $contains: { name: 'admin' } } } };
    expect(await ask(byMatcho, { 'user-id': 'u-admin' })).toMatchObject({ result: true });
    expect(await ask(byMatcho, { 'user-id': 'u-plain' })).toMatchObject({ result: false });
  });

  it('names what is missing', async () => {
    const res = await config.request('/auth/test-policy', {
      method: 'POST',
      ...json({ request: { 'request-method': 'get' }, 'user-id': 'nobody' }),
    });
    expect(res.status).toBe(422);
    const where = (await res.json()).issue.map((i: { expression?: string[] }) => i.expression?.[0]);
    expect(where).toEqual(['policy', 'request.uri', 'user-id']);
  });
});

describe('POST / and POST /fhir with a Bundle', () => {
  const policy = (id: string, engine = 'allow') => ({ resourceType: 'AccessPolicy', id, engine });

  it('applies a transaction of mixed resources, answered with a transaction-response', async () => {
    const res = await config.request('/fhir', {
      method: 'POST',
      ...json({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            request: { method: 'PUT', url: '/AccessPolicy/tx-1' },
            resource: { resourceType: 'AccessPolicy', engine: 'allow' },
          },
          {
            request: { method: 'PUT', url: 'Role/tx-role' },
            resource: { name: 'r', user: { reference: 'User/u' } },
          },
        ],
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      resourceType: 'Bundle',
      type: 'transaction-response',
      entry: [
        { response: { status: '201 Created', location: 'AccessPolicy/tx-1' } },
        { response: { status: '201 Created', location: 'Role/tx-role' } },
      ],
    });
    expect((await config.request('/Role/tx-role')).status).toBe(200);
  });

  it('stores nothing of a transaction with one invalid entry, naming the entry', async () => {
    const res = await config.request('/', {
      method: 'POST',
      ...json({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: policy('tx-ok') }, { resource: policy('tx-bad', 'sql') }],
      }),
    });
    expect(res.status).toBe(422);
    const outcome = await res.json();
    expect(outcome.issue[0].expression[0]).toMatch(/^Bundle\.entry\[1\]\.resource/);
    expect((await config.request('/AccessPolicy/tx-ok')).status).toBe(404);
  });

  it('applies a batch entry by entry, each with its own status', async () => {
    const res = await config.request('/', {
      method: 'POST',
      ...json({
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { resource: policy('b-ok') },
          { resource: policy('b-bad', 'sql') },
          { request: { method: 'DELETE', url: 'User/x' }, resource: {} },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.type).toBe('batch-response');
    expect(body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual([
      '201 Created',
      '422',
      '422',
    ]);
    expect(body.entry[1].response.outcome.issue[0].expression[0]).toMatch(/^Bundle\.entry\[1\]/);
    expect((await config.request('/AccessPolicy/b-ok')).status).toBe(200);
  });
});
