import { SEED_INTROSPECTOR_SECRET, SEED_POLICY_JSON_SCHEMA, SEED_USER } from '@authz/test-support';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ADMIN, basic, type ConfigFixture, startConfigFixture } from './testing/fixture.js';

const yaml = { 'content-type': 'text/yaml' };
const json = { 'content-type': 'application/json' };

let config: ConfigFixture;
beforeAll(async () => {
  config = await startConfigFixture();
});
afterAll(async () => {
  await config?.close();
});

async function clear(): Promise<void> {
  for (const key of await config.keys()) await config.kv.purge(key);
}

async function put(path: string, body: string, headers: Record<string, string> = yaml) {
  return config.request(path, { method: 'PUT', body, headers });
}

describe('resources over HTTP', () => {
  beforeEach(clear);

  it.each([
    ['TokenIntrospector', 'external-auth-server', SEED_INTROSPECTOR_SECRET],
    ['AccessPolicy', 'external-auth-server', SEED_POLICY_JSON_SCHEMA],
    ['User', 'some-user-id', SEED_USER],
  ])('stores the seed %s sent as text/yaml: 201, then 200 on replace', async (type, id, body) => {
    const created = await put(`/${type}/${id}`, body);
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/${type}/${id}`);
    const first = (await created.json()) as Record<string, unknown>;
    expect(first).toMatchObject({ resourceType: type, id });

    const replaced = await put(`/${type}/${id}`, body);
    expect(replaced.status).toBe(200);
    const second = (await replaced.json()) as { meta: { versionId: string } };
    expect(replaced.headers.get('etag')).toBe(`W/"${second.meta.versionId}"`);
    expect(Number(second.meta.versionId)).toBeGreaterThan(
      Number((first.meta as { versionId: string }).versionId),
    );

    // What workers read is exactly the resource: no server meta, nothing added.
    expect(await config.stored(type, id)).toEqual(parseYaml(body));
  });

  it('answers GET in JSON, or YAML when Accept asks for it, with the revision as ETag', async () => {
    const { headers } = await put('/User/some-user-id', SEED_USER);
    const tag = headers.get('etag');

    const asJson = await config.request('/User/some-user-id');
    expect(asJson.status).toBe(200);
    expect(asJson.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(asJson.headers.get('etag')).toBe(tag);
    const body = (await asJson.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ ...parseYaml(SEED_USER), meta: { versionId: tag?.slice(3, -1) } });

    const asYaml = await config.request('/User/some-user-id', { headers: { accept: 'text/yaml' } });
    expect(asYaml.headers.get('content-type')).toBe('text/yaml; charset=utf-8');
    expect(parseYaml(await asYaml.text())).toEqual(body);
  });

  it('lists a type as a searchset Bundle bounded by _count', async () => {
    for (const id of ['c', 'a', 'b']) {
      expect(
        (await put(`/User/${id}`, JSON.stringify({ resourceType: 'User', name: id }), json)).status,
      ).toBe(201);
    }
    await put('/Client/other', '{}', json);
    const all = (await (await config.request('/User')).json()) as Record<string, unknown>;
    expect(all).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 3 });
    expect((all.entry as Array<{ resource: { id: string } }>).map((e) => e.resource.id)).toEqual([
      'a',
      'b',
      'c',
    ]);

    const page = (await (await config.request('/User?_count=2')).json()) as {
      total: number;
      entry: unknown[];
    };
    expect(page.total).toBe(3);
    expect(page.entry).toHaveLength(2);
    expect((await config.request('/User?_count=1001')).status).toBe(400);
  });

  it('deletes: 200 with the deleted resource, then 404', async () => {
    await put('/User/some-user-id', SEED_USER);
    const deleted = await config.request('/User/some-user-id', { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toMatchObject({ resourceType: 'User', id: 'some-user-id' });
    expect(await config.stored('User', 'some-user-id')).toBeUndefined();
    expect((await config.request('/User/some-user-id', { method: 'DELETE' })).status).toBe(404);
    const missing = await config.request('/User/some-user-id');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'not-found', diagnostics: 'User/some-user-id does not exist' }],
    });
    // A deleted resource can be created again.
    expect((await put('/User/some-user-id', SEED_USER)).status).toBe(201);
  });

  it('creates with a generated id on POST, ignoring an id in the body', async () => {
    const res = await config.request('/Client', {
      method: 'POST',
      body: JSON.stringify({ id: 'chosen', name: 'app' }),
      headers: json,
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string };
    expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.headers.get('location')).toBe(`/Client/${body.id}`);
    expect(await config.stored('Client', body.id)).toEqual({
      resourceType: 'Client',
      id: body.id,
      name: 'app',
    });
    expect(await config.stored('Client', 'chosen')).toBeUndefined();
  });

  it('stores User.password and Client.secret only as scrypt hashes', async () => {
    await put('/User/u1', JSON.stringify({ password: 'hunter2' }), json);
    const stored = (await config.stored('User', 'u1')) as { password: string };
    expect(stored.password).toMatch(/^\$scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    // Round trip: the hash is kept, not hashed again.
    await put('/User/u1', JSON.stringify(stored), json);
    expect(((await config.stored('User', 'u1')) as { password: string }).password).toBe(stored.password);
  });
});

describe('admin authentication', () => {
  it.each([
    ['no credentials', null, 'admin credentials are required (HTTP Basic)'],
    ['a wrong password', basic(ADMIN.user, 'nope'), 'the admin credentials are wrong'],
    ['a wrong user', basic('root', ADMIN.password), 'the admin credentials are wrong'],
  ])(
    'refuses %s with 401 and a Basic challenge, storing nothing',
    async (_name, authorization, diagnostics) => {
      const before = await config.keys();
      const res = await config.request('/User/x', {
        method: 'PUT',
        body: '{}',
        headers: json,
        authorization,
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="authz", charset="UTF-8"');
      expect(await res.json()).toEqual({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'login', diagnostics }],
      });
      expect(await config.keys()).toEqual(before);
    },
  );

  it('serves /healthz, /readyz and /metrics without credentials', async () => {
    const health = await config.request('/healthz', { authorization: null });
    expect(health.status).toBe(200);
    const ready = await config.request('/readyz', { authorization: null });
    expect(await ready.json()).toEqual({ status: 'ready', nats: true, kv: true });
    const metrics = await config.request('/metrics', { authorization: null });
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('authz_config_http_requests_total{route="/healthz",method="GET",status="200"');
    expect(text).toContain('authz_config_http_request_duration_seconds_bucket');
  });

  it('requires credentials for everything else', async () => {
    for (const path of ['/User', '/$decisions']) {
      expect((await config.request(path, { authorization: null })).status).toBe(401);
    }
    for (const path of ['/$test-policy', '/$revoke', '/$check']) {
      expect((await config.request(path, { method: 'POST', authorization: null })).status).toBe(401);
    }
  });
});

describe('conditional writes', () => {
  beforeEach(clear);

  it('replaces with a matching If-Match and refuses a stale one with 412', async () => {
    const first = await put('/User/u', '{"v":1}', json);
    const tag = first.headers.get('etag') as string;
    const second = await put('/User/u', '{"v":2}', { ...json, 'if-match': tag });
    expect(second.status).toBe(200);

    const stale = await put('/User/u', '{"v":3}', { ...json, 'if-match': tag });
    expect(stale.status).toBe(412);
    expect(((await stale.json()) as { issue: Array<{ code: string }> }).issue[0]?.code).toBe('conflict');
    expect(await config.stored('User', 'u')).toEqual({ resourceType: 'User', id: 'u', v: 2 });

    const staleDelete = await config.request('/User/u', { method: 'DELETE', headers: { 'if-match': tag } });
    expect(staleDelete.status).toBe(412);
    expect(await config.stored('User', 'u')).toEqual({ resourceType: 'User', id: 'u', v: 2 });
  });

  it('refuses If-Match on a missing resource and If-None-Match: * on an existing one', async () => {
    expect((await put('/User/u', '{}', { ...json, 'if-match': 'W/"1"' })).status).toBe(412);
    expect(await config.stored('User', 'u')).toBeUndefined();
    expect((await put('/User/u', '{}', { ...json, 'if-none-match': '*' })).status).toBe(201);
    expect((await put('/User/u', '{}', { ...json, 'if-none-match': '*' })).status).toBe(412);
  });

  it('lets exactly one of several concurrent writes with the same If-Match win', async () => {
    const tag = (await put('/User/u', '{"v":0}', json)).headers.get('etag') as string;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        put('/User/u', JSON.stringify({ v: i + 1 }), { ...json, 'if-match': tag }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 412, 412, 412, 412, 412, 412, 412]);
    const winner = results.findIndex((r) => r.status === 200);
    expect(await config.stored('User', 'u')).toEqual({ resourceType: 'User', id: 'u', v: winner + 1 });
  });
});
