import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigFixture, startConfigFixture } from '../testing/fixture.js';

let fx: ConfigFixture;
beforeAll(async () => {
  fx = await startConfigFixture();
});
afterAll(async () => {
  await fx?.close();
});

const bundle = (...resources: unknown[]) => ({
  resourceType: 'Bundle',
  type: 'collection',
  entry: resources.map((resource) => ({ resource })),
});

interface ValidateReply {
  entry: Array<{ fullUrl: string; response: { status: string } }>;
  issue: Array<{ expression: string[] }>;
}

async function validate(body: unknown): Promise<{ status: number; body: ValidateReply }> {
  const res = await fx.request('/$validate', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('POST /$validate (the dry run behind authz apply)', () => {
  it('says create, replace or unchanged per entry and writes nothing', async () => {
    await fx.request('/AccessPolicy/kept', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ engine: 'allow' }),
    });
    await fx.request('/Client/app', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ secret: 's3cret', grant_types: ['basic'] }),
    });
    const { status, body } = await validate(
      bundle(
        { resourceType: 'AccessPolicy', id: 'new', engine: 'allow' },
        { resourceType: 'AccessPolicy', id: 'kept', engine: 'allow' },
        { resourceType: 'Client', id: 'app', secret: 's3cret', grant_types: ['basic'] },
        { resourceType: 'Client', id: 'app-2', secret: 'x' },
      ),
    );
    expect(status).toBe(200);
    expect(body.entry.map((e) => [e.fullUrl, e.response.status])).toEqual([
      ['AccessPolicy/new', '201 Created'],
      ['AccessPolicy/kept', '304 Not Modified'],
      // The plain secret verifies against the stored scrypt hash: nothing to change.
      ['Client/app', '304 Not Modified'],
      ['Client/app-2', '201 Created'],
    ]);
    expect(await fx.stored('AccessPolicy', 'new')).toBeUndefined();
    const changed = await validate({
      resourceType: 'Client',
      id: 'app',
      secret: 'other',
      grant_types: ['basic'],
    });
    expect(changed.body.entry[0]?.response.status).toBe('200 OK');
  });

  it('lists every problem of every entry, each at its place in the Bundle', async () => {
    const { status, body } = await validate(
      bundle(
        { resourceType: 'AccessPolicy', id: 'ok', engine: 'allow' },
        { resourceType: 'AccessPolicy', id: 'bad', engine: 'matcho', matcho: { uri: { $bogus: 1 } } },
        { resourceType: 'Nope', id: 'x' },
        { resourceType: 'AccessPolicy', id: 'ok', engine: 'allow' },
        { resourceType: 'User' },
      ),
    );
    expect(status).toBe(422);
    const where = body.issue.map((i) => i.expression[0]);
    expect(where).toEqual([
      'Bundle.entry[1].resource.matcho.uri.$bogus',
      'Bundle.entry[2].resource.resourceType',
      'Bundle.entry[3].resource.id',
      'Bundle.entry[4].resource.id',
    ]);
    expect(await fx.stored('AccessPolicy', 'ok')).toBeUndefined();
  });
});
