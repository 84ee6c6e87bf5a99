import { SEED_POLICY_JSON_SCHEMA } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigFixture, startConfigFixture } from '../testing/fixture.js';

let config: ConfigFixture;
beforeAll(async () => {
  config = await startConfigFixture();
});
afterAll(async () => {
  await config?.close();
});

const indent = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

async function testPolicy(body: string, type = 'application/json') {
  const res = await config.request('/$test-policy', {
    method: 'POST',
    body,
    headers: { 'content-type': type },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const SEED_JWT_CONTEXT = { jwt: { iss: 'https://auth.example.com', sub: 'some-user-id' } };

describe('POST /$test-policy', () => {
  it.each([
    ['allow allows anything', { engine: 'allow' }, {}, true, true],
    ['the seed json-schema policy, matching iss', 'seed', SEED_JWT_CONTEXT, true, true],
    [
      'the seed json-schema policy, another iss',
      'seed',
      { jwt: { iss: 'https://evil.example.com' } },
      false,
      true,
    ],
    ['the seed json-schema policy, no jwt', 'seed', { 'request-method': 'get' }, false, true],
    [
      'matcho on request-method and a uri regex',
      { engine: 'matcho', matcho: { 'request-method': 'get', uri: '#^/fhir/Patient' } },
      { 'request-method': 'get', uri: '/fhir/Patient/1' },
      true,
      true,
    ],
    [
      'matcho on method, refused for post',
      { engine: 'matcho', matcho: { 'request-method': 'get' } },
      { 'request-method': 'post' },
      false,
      true,
    ],
    [
      'a linked policy for another user is not applicable',
      { engine: 'allow', link: [{ resourceType: 'User', id: 'alice' }] },
      { user: { id: 'bob' } },
      false,
      false,
    ],
    [
      'a linked policy for this user is applicable',
      { engine: 'allow', link: [{ resourceType: 'User', id: 'alice' }] },
      { user: { id: 'alice' } },
      true,
      true,
    ],
    [
      'roleName without the role is not applicable',
      { engine: 'allow', roleName: 'admin' },
      { user: { id: 'alice' }, role: [{ name: 'reader' }] },
      false,
      false,
    ],
    [
      'complex and of allow and matcho',
      {
        engine: 'complex',
        and: [{ engine: 'allow' }, { engine: 'matcho', matcho: { jwt: { sub: 'present?' } } }],
      },
      SEED_JWT_CONTEXT,
      true,
      true,
    ],
  ])('%s', async (_name, policy, context, result, applicable) => {
    const policyBody =
      policy === 'seed'
        ? (await import('yaml')).parse(SEED_POLICY_JSON_SCHEMA)
        : { resourceType: 'AccessPolicy', ...policy };
    const { status, body } = await testPolicy(JSON.stringify({ policy: policyBody, context }));
    expect(status).toBe(200);
    expect(body).toMatchObject({ result, applicable });
    expect(Array.isArray(body.explain)).toBe(true);
  });

  it('accepts YAML, with the seed policy pasted verbatim and an id-less policy', async () => {
    const yaml = `policy:\n${indent(SEED_POLICY_JSON_SCHEMA)}\ncontext:\n  jwt:\n    iss: https://auth.example.com\n`;
    expect(await testPolicy(yaml, 'text/yaml')).toMatchObject({
      status: 200,
      body: { result: true, applicable: true },
    });
    const noId = 'policy:\n  engine: matcho\n  matcho:\n    uri: /x\ncontext:\n  uri: /y\n';
    const { body } = await testPolicy(noId, 'text/yaml');
    expect(body).toMatchObject({
      result: false,
      applicable: true,
      explain: [{ policy: 'test-policy', result: false }],
    });
  });

  it('never stores the policy', async () => {
    await testPolicy(JSON.stringify({ policy: { id: 'tp', engine: 'allow' }, context: {} }));
    expect(await config.keys()).toEqual([]);
  });

  it.each([
    [
      'an unsupported engine',
      { policy: { engine: 'sql', sql: { query: 'select 1' } }, context: {} },
      { code: 'not-supported', expression: ['AccessPolicy.engine'] },
    ],
    [
      'a policy that is not an object',
      { policy: 'allow', context: {} },
      { code: 'required', expression: ['policy'] },
    ],
    ['a missing context', { policy: { engine: 'allow' } }, { code: 'required', expression: ['context'] }],
    [
      'a policy of another type',
      { policy: { resourceType: 'User' }, context: {} },
      { code: 'value', expression: ['AccessPolicy.resourceType'] },
    ],
  ])('refuses %s with 422 naming the path', async (_name, body, issue) => {
    const res = await testPolicy(JSON.stringify(body));
    expect(res.status).toBe(422);
    expect((res.body.issue as unknown[])[0]).toMatchObject(issue);
  });
});
