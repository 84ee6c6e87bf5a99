import type { AccessPolicy } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../policy.js';

const matcho = (pattern: Record<string, unknown>) =>
  compilePolicy({ resourceType: 'AccessPolicy', id: 'p', engine: 'matcho', matcho: pattern } as AccessPolicy);

/** [what, pattern of `x`, value of `x` (undefined: absent), matches?] — context `{x, user: {id: 'u1', tags: ['a', 'b']}}` */
const table: [string, unknown, unknown, boolean][] = [
  // scalars by value
  ['string equal', 'get', 'get', true],
  ['string different', 'get', 'post', false],
  ['string vs number', '1', 1, false],
  ['number equal', 42, 42, true],
  ['number different', 42, 43, false],
  ['boolean true', true, true, true],
  ['boolean vs string', true, 'true', false],
  ['scalar vs absent', 'get', undefined, false],
  // maps match as subsets
  ['map subset', { a: 1 }, { a: 1, b: 2 }, true],
  ['map nested subset', { a: { b: 5 } }, { a: { b: 5, c: 6 }, d: 7 }, true],
  ['map missing key', { a: 1 }, { z: 1 }, false],
  ['map nested mismatch', { a: { b: 5 } }, { a: { c: 5 } }, false],
  ['map vs list', { a: 1 }, [{ a: 1 }], false],
  ['map vs string', { a: 1 }, 'a', false],
  ['empty map vs map', {}, { a: 1 }, true],
  ['empty map vs scalar', {}, 1, false],
  ['map key from prototype', { constructor: 'present?' }, {}, false],
  // lists match position by position as a prefix
  ['list prefix', [1, 2], [1, 2, 3], true],
  ['list exact', [1, 2], [1, 2], true],
  ['list order matters', [1, 2], [2, 1], false],
  ['list too short', [1, 2], [1], false],
  ['list vs map', [1], { 0: 1 }, false],
  ['list of maps', [{ a: 1 }], [{ a: 1, b: 2 }], true],
  // regex: search, not full match
  ['regex search', '#\\d+', 'abc2345', true],
  ['regex no match', '#\\d+', 'abc', false],
  ['regex anchored', '#^/Patient', '/Patient/1', true],
  ['regex anchored miss', '#^/Patient', '/fhir/Patient', false],
  ['regex vs number', '#\\d+', 2345, false],
  ['regex case-insensitive (?i)', '#(?i)^/patient', '/PATIENT/1', true],
  ['regex case-insensitive miss', '#(?i)^/patient', '/Encounter', false],
  // special strings
  ['present? value', 'present?', 5, true],
  ['present? map', 'present?', { b: 6 }, true],
  ['present? absent', 'present?', undefined, false],
  ['nil? absent', 'nil?', undefined, true],
  ['nil? value', 'nil?', 0, false],
  ['null pattern absent', null, undefined, true],
  ['null pattern value', null, 'x', false],
  ['not-blank? text', 'not-blank?', ' a ', true],
  ['not-blank? spaces', 'not-blank?', '   ', false],
  ['not-blank? number', 'not-blank?', 5, false],
  // .path references into the context
  ['.path equal', '.user.id', 'u1', true],
  ['.path different', '.user.id', 'u2', false],
  ['.path numeric index', '.user.tags.1', 'b', true],
  ['.path numeric index miss', '.user.tags.0', 'b', false],
  ['.path to a list', '.user.tags', ['a', 'b'], true],
  ['.path unresolved vs absent never matches', '.user.missing', undefined, false],
  ['.path unresolved vs value', '.user.missing', 'x', false],
  // $enum
  ['$enum member', { $enum: ['get', 'post'] }, 'post', true],
  ['$enum non-member', { $enum: ['get', 'post'] }, 'put', false],
  ['$enum numbers', { $enum: [1, 2] }, 2, true],
  ['$enum absent', { $enum: ['get'] }, undefined, false],
  // $one-of
  ['$one-of first', { '$one-of': [{ b: 'present?' }, { c: 'present?' }] }, { b: 1 }, true],
  ['$one-of second', { '$one-of': [{ b: 'present?' }, { c: 'present?' }] }, { c: 5 }, true],
  ['$one-of none', { '$one-of': [{ b: 'present?' }, { c: 'present?' }] }, { d: 5 }, false],
  // $contains
  ['$contains some', { $contains: { system: 'loinc' } }, [{ system: 'snomed' }, { system: 'loinc' }], true],
  ['$contains none', { $contains: { system: 'loinc' } }, [{ system: 'snomed' }], false],
  ['$contains scalar', { $contains: 'inpatient' }, ['outpatient', 'inpatient'], true],
  ['$contains not a list', { $contains: 'inpatient' }, 'inpatient', false],
  // $every
  ['$every all', { $every: { foo: 'bar' } }, [{ foo: 'bar' }, { foo: 'bar', baz: 'quux' }], true],
  ['$every one fails', { $every: { foo: 'bar' } }, [{ foo: 'bar' }, { foo: 'baz' }], false],
  ['$every not a list', { $every: { foo: 'bar' } }, { foo: 'bar' }, false],
  // $not
  ['$not mismatch', { $not: { status: 'private' } }, { status: 'public' }, true],
  ['$not match', { $not: { status: 'private' } }, { status: 'private' }, false],
  ['$not regex', { $not: '#^admin' }, 'user', true],
  // $reference
  ['$reference string', { $reference: { resourceType: 'Patient', id: 'pid' } }, 'Patient/pid', true],
  ['$reference map', { $reference: { id: 'pid' } }, { reference: 'Patient/pid' }, true],
  [
    '$reference absolute with history',
    { $reference: { id: 'pid' } },
    { reference: 'https://x/fhir/Patient/pid/_history/2' },
    true,
  ],
  [
    '$reference aidbox format',
    { $reference: { resourceType: 'Patient' } },
    { resourceType: 'Patient', id: 'p' },
    true,
  ],
  ['$reference other id', { $reference: { id: 'pid' } }, 'Patient/other', false],
  ['$reference with .path', { $reference: { id: '.user.id' } }, 'User/u1', true],
  ['$reference unparsable', { $reference: { id: 'pid' } }, 'pid', false],
  // $present-all and $length
  ['$present-all any order', { '$present-all': [{ t: 'E' }, { t: 'P' }] }, [{ t: 'P' }, { t: 'E' }], true],
  ['$present-all missing one', { '$present-all': [{ t: 'E' }, { t: 'P' }] }, [{ t: 'P' }], false],
  ['$present-all with $length', { $length: 2, '$present-all': [{ t: 'P' }] }, [{ t: 'P' }, { t: 'E' }], true],
  [
    '$present-all with $length too long',
    { $length: 2, '$present-all': [{ t: 'P' }] },
    [{ t: 'P' }, { t: 'E' }, { t: 'X' }],
    false,
  ],
  ['$length equal', { $length: 2 }, [1, 2], true],
  ['$length different', { $length: 2 }, [1], false],
  ['$length not a list', { $length: 1 }, 'a', false],
  // operators combine with plain keys (all must hold)
  ['operator and key', { a: 1, $not: { b: 2 } }, { a: 1, b: 3 }, true],
  ['operator and key fails', { a: 1, $not: { b: 2 } }, { a: 1, b: 2 }, false],
];

describe('matcho conformance (DESIGN §6, Aidbox matcho DSL)', () => {
  it.each(table)('%s', (_what, pattern, value, expected) => {
    const ctx: Record<string, unknown> = { user: { id: 'u1', tags: ['a', 'b'] } };
    if (value !== undefined) ctx.x = value;
    expect(matcho({ x: pattern }).evaluate(ctx)).toBe(expected);
  });

  it('matches the whole context as a subset map', () => {
    const policy = matcho({ 'request-method': 'get', params: { 'resource/type': 'Patient' } });
    expect(
      policy.evaluate({ 'request-method': 'get', params: { 'resource/type': 'Patient', _count: '1' } }),
    ).toBe(true);
    expect(policy.evaluate({ 'request-method': 'get', params: { 'resource/type': 'Encounter' } })).toBe(
      false,
    );
  });

  it('resolves slash keys in .path references', () => {
    const policy = matcho({ jwt: { sub: '.params.resource/id' } });
    expect(policy.evaluate({ jwt: { sub: 'p1' }, params: { 'resource/id': 'p1' } })).toBe(true);
    expect(policy.evaluate({ jwt: { sub: 'p1' }, params: { 'resource/id': 'p2' } })).toBe(false);
  });

  it('never matches a .path reference when both sides are missing (deliberate difference from Aidbox)', () => {
    const policy = matcho({ params: { owner: '.user.id' } });
    expect(policy.evaluate({ params: {} })).toBe(false);
    expect(policy.evaluate({})).toBe(false);
  });
});

describe('matcho explain', () => {
  const cases: [
    string,
    Record<string, unknown>,
    Record<string, unknown>,
    { path: string; expected: unknown; actual: unknown },
  ][] = [
    [
      'scalar',
      { 'request-method': 'post' },
      { 'request-method': 'get' },
      { path: 'request-method', expected: 'post', actual: 'get' },
    ],
    [
      'nested key',
      { params: { 'resource/type': 'Patient' } },
      { params: { 'resource/type': 'Encounter' } },
      { path: 'params.resource/type', expected: 'Patient', actual: 'Encounter' },
    ],
    [
      'absent',
      { user: { id: 'present?' } },
      {},
      { path: 'user', expected: { id: 'present?' }, actual: undefined },
    ],
    [
      '$every element',
      { role: { $every: { name: 'admin' } } },
      { role: [{ name: 'admin' }, { name: 'guest' }] },
      { path: 'role[1].name', expected: 'admin', actual: 'guest' },
    ],
    ['list position', { x: [1, 2] }, { x: [1, 3] }, { path: 'x[1]', expected: 2, actual: 3 }],
    [
      '$enum',
      { 'request-method': { $enum: ['get', 'post'] } },
      { 'request-method': 'put' },
      { path: 'request-method', expected: { $enum: ['get', 'post'] }, actual: 'put' },
    ],
    [
      '.path resolves to the value',
      { jwt: { sub: '.params.resource/id' } },
      { jwt: { sub: 'a' }, params: { 'resource/id': 'b' } },
      { path: 'jwt.sub', expected: 'b', actual: 'a' },
    ],
    [
      'credential header redacted',
      { headers: { authorization: '#^Basic' } },
      { headers: { authorization: 'Bearer secret-token' } },
      { path: 'headers.authorization', expected: '#^Basic', actual: '[redacted]' },
    ],
  ];

  it.each(cases)('names the first mismatching path: %s', (_what, pattern, ctx, want) => {
    const entry = matcho(pattern).explain(ctx);
    expect(entry).toMatchObject({ policy: 'p', engine: 'matcho', result: false, ...want });
    expect(entry.detail).toMatch(new RegExp(`^${want.path.replace(/[.[\]]/g, '\\$&')}: `));
  });

  it('reports the first of several mismatches, in pattern order', () => {
    const entry = matcho({ 'request-method': 'post', uri: '/x' }).explain({
      'request-method': 'get',
      uri: '/y',
    });
    expect(entry.path).toBe('request-method');
  });

  it('says a missing .path reference never matches', () => {
    const entry = matcho({ params: { owner: '.user.id' } }).explain({ params: { owner: 'u1' } });
    expect(entry).toMatchObject({ path: 'params.owner', result: false });
    expect(entry.detail).toBe('params.owner: .user.id resolves to nothing, which never matches');
  });

  it('reports true without a path for a matching request', () => {
    expect(matcho({ 'request-method': 'get' }).explain({ 'request-method': 'get' })).toEqual({
      policy: 'p',
      engine: 'matcho',
      result: true,
    });
  });
});
