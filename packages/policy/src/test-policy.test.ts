import type { AccessPolicy } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { PolicyConfigError } from './errors.js';
import { testPolicy } from './test-policy.js';

const policy = (body: Record<string, unknown>) => ({ resourceType: 'AccessPolicy', ...body }) as AccessPolicy;

describe('testPolicy (/$test-policy)', () => {
  it('evaluates an unsaved policy and explains it', () => {
    const out = testPolicy(
      policy({ engine: 'matcho', matcho: { 'request-method': 'get', uri: '#^/fhir/Patient' } }),
      {
        'request-method': 'post',
        uri: '/fhir/Patient',
      },
    );
    expect(out).toEqual({
      result: false,
      applicable: true,
      explain: [
        {
          policy: 'test-policy',
          engine: 'matcho',
          result: false,
          detail: 'request-method: expected "get"',
          path: 'request-method',
          expected: 'get',
          actual: 'post',
        },
      ],
    });
  });

  it('accepts any top-level keys in the context', () => {
    const out = testPolicy(policy({ id: 'p1', engine: 'matcho', matcho: { tenant: { org: 'present?' } } }), {
      tenant: { org: 'o1' },
    });
    expect(out).toEqual({
      result: true,
      applicable: true,
      explain: [{ policy: 'p1', engine: 'matcho', result: true }],
    });
  });

  it('removes empty values from the context, as for a real request', () => {
    const out = testPolicy(policy({ engine: 'matcho', matcho: { user: 'nil?' } }), { user: {} });
    expect(out.result).toBe(true);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>, boolean]>([
    ['linked user', { link: [{ resourceType: 'User', id: 'u1' }] }, { user: { id: 'u1' } }, true],
    ['other user', { link: [{ resourceType: 'User', id: 'u1' }] }, { user: { id: 'u2' } }, false],
    ['linked client', { link: [{ reference: 'Client/c1' }] }, { client: { id: 'c1' } }, true],
    [
      'linked operation',
      { link: [{ resourceType: 'Operation', id: 'op' }] },
      { operation: { id: 'op' } },
      true,
    ],
    ['no subject', { link: [{ resourceType: 'User', id: 'u1' }] }, {}, false],
    [
      'role as Role resources',
      { roleName: 'admin' },
      { role: [{ resourceType: 'Role', name: 'admin' }] },
      true,
    ],
    ['role as strings', { roleName: 'admin' }, { role: ['viewer', 'admin'] }, true],
    ['role as one string', { roleName: 'admin' }, { role: 'admin' }, true],
    ['role missing', { roleName: 'admin' }, { role: [{ name: 'viewer' }] }, false],
    [
      'link and role both needed',
      { roleName: 'admin', link: [{ resourceType: 'User', id: 'u1' }] },
      { user: { id: 'u1' } },
      false,
    ],
  ])('decides applicability from link and roleName: %s → %s', (_what, extra, context, applicable) => {
    const out = testPolicy(policy({ engine: 'allow', ...extra }), context);
    expect(out.applicable).toBe(applicable);
    expect(out.result).toBe(applicable);
    if (!applicable) expect(out.explain[0]?.detail).toMatch(/^not applicable: /);
  });

  it('refuses an invalid policy as PUT would, with paths', () => {
    expect(() => testPolicy(policy({ engine: 'matcho', matcho: { uri: { $bogus: 1 } } }), {})).toThrow(
      PolicyConfigError,
    );
    let error: unknown;
    try {
      testPolicy(policy({ engine: 'sql', sql: { query: 'select true' } }), {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PolicyConfigError);
    expect((error as PolicyConfigError).code).toBe('ERR_POLICY_ENGINE_UNSUPPORTED');
    expect((error as PolicyConfigError).issues[0]?.path).toBe('engine');
  });

  it('nests complex explain entries under the policy', () => {
    const out = testPolicy(
      policy({
        id: 'c',
        engine: 'complex',
        or: [
          { engine: 'matcho', matcho: { uri: '/a' } },
          { engine: 'json-schema', schema: { required: ['user'] } },
        ],
      }),
      { uri: '/b' },
    );
    expect(out.result).toBe(false);
    expect(out.explain[0]?.children?.map((c) => [c.policy, c.engine, c.result])).toEqual([
      ['c.or[0]', 'matcho', false],
      ['c.or[1]', 'json-schema', false],
    ]);
  });
});
