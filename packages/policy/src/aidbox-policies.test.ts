import type { AccessPolicy, CheckRequest } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { buildRequestContext, type ContextIdentity } from './context/build.js';
import { compilePolicy } from './policy.js';
import { PolicySet, type Subject } from './set/policy-set.js';

// Policies as Aidbox's docs and the seed write them, decided end to end: CheckRequest + identity
// → context → PolicySet. Each row: request, identity, whether the policy allows.
type Row = [string, Partial<CheckRequest>, ContextIdentity | undefined, boolean];

function decide(resource: Record<string, unknown>, rows: Row[]) {
  const compiled = compilePolicy({ resourceType: 'AccessPolicy', id: 'policy', ...resource } as AccessPolicy);
  const set = new PolicySet([compiled]);
  return rows.map(([what, request, identity]) => {
    const ctx = buildRequestContext({ method: 'GET', uri: '/', ...request } as CheckRequest, identity);
    const user = identity?.user?.id as string | undefined;
    const roles = new Set((identity?.role ?? []).map((r) => r.name as string));
    const subject: Subject = { user, roles };
    return [what, set.decide(ctx, subject).policy === 'policy'];
  });
}

const expectRows = (resource: Record<string, unknown>, rows: Row[]) =>
  expect(decide(resource, rows)).toEqual(rows.map(([what, , , allowed]) => [what, allowed]));

const jwt = (claims: Record<string, unknown>): ContextIdentity => ({
  jwt: { iss: 'https://auth.example.com', ...claims },
});

describe('seed policies', () => {
  it('json-schema: jwt.iss constant', () => {
    expectRows(
      {
        engine: 'json-schema',
        schema: {
          required: ['jwt'],
          properties: {
            jwt: { required: ['iss'], properties: { iss: { constant: 'https://auth.example.com' } } },
          },
        },
      },
      [
        ['GET /fhir/Patient with the JWT', { uri: '/fhir/Patient' }, jwt({ sub: 'some-user-id' }), true],
        ['another issuer', { uri: '/fhir/Patient' }, { jwt: { iss: 'https://other.example.com' } }, false],
        ['anonymous', { uri: '/fhir/Patient' }, undefined, false],
      ],
    );
  });

  it('matcho: token active (legacy policy without engine is matcho too)', () => {
    const rows: Row[] = [
      ['active token', {}, { token: { active: true, sub: 'u' } }, true],
      ['inactive token', {}, { token: { active: false } }, false],
      ['no token', {}, undefined, false],
    ];
    expectRows({ engine: 'matcho', matcho: { token: { active: true } } }, rows);
    expectRows({ matcho: { token: { active: true } } }, rows);
  });
});

describe('Aidbox documentation policies', () => {
  it('restricts by request-method and uri regex (practitioners read patients)', () => {
    expectRows(
      {
        engine: 'matcho',
        matcho: {
          user: { roles: [{ value: 'practitioner' }] },
          uri: '#/Patient/.*',
          'request-method': 'get',
        },
      },
      [
        [
          'practitioner reads a patient',
          { uri: '/Patient/pt-1' },
          { user: { id: 'u', roles: [{ value: 'practitioner' }] } },
          true,
        ],
        [
          'practitioner deletes a patient',
          { method: 'DELETE', uri: '/Patient/pt-1' },
          { user: { id: 'u', roles: [{ value: 'practitioner' }] } },
          false,
        ],
        [
          'practitioner reads an encounter',
          { uri: '/Encounter/e-1' },
          { user: { id: 'u', roles: [{ value: 'practitioner' }] } },
          false,
        ],
        [
          'nurse reads a patient',
          { uri: '/Patient/pt-1' },
          { user: { id: 'u', roles: [{ value: 'nurse' }] } },
          false,
        ],
      ],
    );
  });

  it('restricts by $one-of methods', () => {
    expectRows({ engine: 'matcho', matcho: { 'request-method': { '$one-of': ['get', 'post', 'put'] } } }, [
      ['get', { method: 'GET' }, undefined, true],
      ['put', { method: 'PUT' }, undefined, true],
      ['delete', { method: 'DELETE' }, undefined, false],
    ]);
  });

  it('restricts by params.resource/type with $enum (authorized users get patients or encounters)', () => {
    expectRows(
      {
        engine: 'matcho',
        matcho: {
          user: 'present?',
          'request-method': 'get',
          params: { 'resource/type': { $enum: ['Patient', 'Encounter'] } },
        },
      },
      [
        ['search patients', { uri: '/fhir/Patient?name=x' }, { user: { id: 'u' } }, true],
        ['read an encounter', { uri: '/fhir/Encounter/e1' }, { user: { id: 'u' } }, true],
        ['read an observation', { uri: '/fhir/Observation/o1' }, { user: { id: 'u' } }, false],
        ['anonymous', { uri: '/fhir/Patient' }, undefined, false],
      ],
    );
  });

  it('compares .jwt.sub with .params.resource/id (patients read only themselves)', () => {
    expectRows(
      { engine: 'matcho', matcho: { uri: '#^/fhir/Patient/', params: { 'resource/id': '.jwt.sub' } } },
      [
        ['own record', { uri: '/fhir/Patient/p1' }, jwt({ sub: 'p1' }), true],
        ['own history version', { uri: '/fhir/Patient/p1/_history/2' }, jwt({ sub: 'p1' }), true],
        ["someone else's record", { uri: '/fhir/Patient/p2' }, jwt({ sub: 'p1' }), false],
        ['no sub (missing reference never matches)', { uri: '/fhir/Patient/p1' }, jwt({}), false],
      ],
    );
  });

  it('requests params equal to user data (practitioner search)', () => {
    expectRows(
      {
        engine: 'matcho',
        matcho: {
          user: { data: { pract_id: 'present?' } },
          uri: '/Encounter',
          params: { practitioner: '.user.data.pract_id' },
        },
      },
      [
        [
          'own encounters',
          { uri: '/Encounter?practitioner=pr1' },
          { user: { id: 'u', data: { pract_id: 'pr1' } } },
          true,
        ],
        [
          "another's encounters",
          { uri: '/Encounter?practitioner=pr2' },
          { user: { id: 'u', data: { pract_id: 'pr1' } } },
          false,
        ],
      ],
    );
  });

  it('checks role membership through Role resources and roleName', () => {
    const rows: Row[] = [
      [
        'admin',
        {},
        { user: { id: 'u1' }, role: [{ resourceType: 'Role', name: 'admin', user: { id: 'u1' } }] },
        true,
      ],
      [
        'viewer',
        {},
        { user: { id: 'u1' }, role: [{ resourceType: 'Role', name: 'viewer', user: { id: 'u1' } }] },
        false,
      ],
      ['no role', {}, { user: { id: 'u1' } }, false],
    ];
    expectRows({ engine: 'matcho', matcho: { role: { $contains: { name: 'admin' } } } }, rows);
    expectRows({ engine: 'allow', roleName: 'admin' }, rows);
  });

  it('uses user department with $contains and guards delete with $not', () => {
    expectRows(
      {
        engine: 'matcho',
        matcho: {
          'request-method': 'delete',
          uri: '#^/Patient.*$',
          user: { department: { $contains: 'inpatient' }, data: { $not: { role: 'guest' } } },
        },
      },
      [
        [
          'inpatient staff',
          { method: 'DELETE', uri: '/Patient/1' },
          { user: { id: 'u', department: ['inpatient'], data: { role: 'nurse' } } },
          true,
        ],
        [
          'outpatient staff',
          { method: 'DELETE', uri: '/Patient/1' },
          { user: { id: 'u', department: ['outpatient'], data: { role: 'nurse' } } },
          false,
        ],
        [
          'inpatient guest',
          { method: 'DELETE', uri: '/Patient/1' },
          { user: { id: 'u', department: ['inpatient'], data: { role: 'guest' } } },
          false,
        ],
      ],
    );
  });

  it('json-schema: params.resource/type must be Organization', () => {
    expectRows(
      {
        engine: 'json-schema',
        schema: {
          required: ['params'],
          properties: {
            params: {
              required: ['resource/type'],
              properties: { 'resource/type': { const: 'Organization' } },
            },
          },
        },
      },
      [
        ['organization', { uri: '/Organization/o1' }, undefined, true],
        ['patient', { uri: '/Patient/p1' }, undefined, false],
      ],
    );
  });

  it('combines rules with complex and/or', () => {
    // check-1 AND (check-2 OR check-3), as in the docs' complex example.
    expectRows(
      {
        engine: 'complex',
        and: [
          {
            engine: 'json-schema',
            schema: {
              type: 'object',
              required: ['user'],
              properties: {
                user: {
                  type: 'object',
                  required: ['data'],
                  properties: { data: { type: 'object', required: ['practitioner_id'] } },
                },
              },
            },
          },
          {
            engine: 'complex',
            or: [
              {
                engine: 'matcho',
                matcho: { 'request-method': 'get', params: { 'resource/type': 'Patient' } },
              },
              { engine: 'matcho', matcho: { 'request-method': 'post', uri: '/fhir/Observation' } },
            ],
          },
        ],
      },
      [
        [
          'practitioner reads a patient',
          { uri: '/fhir/Patient/p1' },
          { user: { id: 'u', data: { practitioner_id: 'pr' } } },
          true,
        ],
        [
          'practitioner posts an observation',
          { method: 'POST', uri: '/fhir/Observation' },
          { user: { id: 'u', data: { practitioner_id: 'pr' } } },
          true,
        ],
        [
          'practitioner deletes a patient',
          { method: 'DELETE', uri: '/fhir/Patient/p1' },
          { user: { id: 'u', data: { practitioner_id: 'pr' } } },
          false,
        ],
        [
          'non-practitioner reads a patient',
          { uri: '/fhir/Patient/p1' },
          { user: { id: 'u', data: {} } },
          false,
        ],
      ],
    );
  });

  it('resolves $reference into Type/id', () => {
    expectRows(
      {
        engine: 'matcho',
        matcho: {
          body: { subject: { $reference: { resourceType: 'Patient', id: '.user.data.patient_id' } } },
        },
      },
      [
        [
          'own patient',
          { method: 'POST', body: { subject: { reference: 'Patient/p1' } } },
          { user: { id: 'u', data: { patient_id: 'p1' } } },
          true,
        ],
        [
          'other patient',
          { method: 'POST', body: { subject: { reference: 'Patient/p2' } } },
          { user: { id: 'u', data: { patient_id: 'p1' } } },
          false,
        ],
      ],
    );
  });

  it('checks $length and $present-all on a bundle', () => {
    expectRows(
      {
        engine: 'matcho',
        matcho: {
          body: {
            entry: {
              $length: 2,
              '$present-all': [{ resourceType: 'Patient' }, { resourceType: 'Encounter' }],
            },
          },
        },
      },
      [
        [
          'both',
          { method: 'POST', body: { entry: [{ resourceType: 'Encounter' }, { resourceType: 'Patient' }] } },
          undefined,
          true,
        ],
        [
          'one missing',
          { method: 'POST', body: { entry: [{ resourceType: 'Patient' }, { resourceType: 'Patient' }] } },
          undefined,
          false,
        ],
      ],
    );
  });
});
