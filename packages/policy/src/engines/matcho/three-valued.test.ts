import type { AccessPolicy } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { buildRequestContext } from '../../context/build.js';
import { compilePolicy } from '../../policy.js';

const matcho = (pattern: Record<string, unknown>) =>
  compilePolicy({ resourceType: 'AccessPolicy', id: 'p', engine: 'matcho', matcho: pattern } as AccessPolicy);

const jwt = { sub: 'alice', patient: 'pt-1' };
const ctx = (uri: string, extra: { method?: string; body_unavailable?: string; body?: unknown } = {}) =>
  buildRequestContext({ method: extra.method ?? 'GET', uri, ...extra }, { jwt });

/** [pattern, request target, allows?] — DESIGN §10: unknown never allows, negated or not. */
const table: [string, Record<string, unknown>, string, boolean][] = [
  ['$not regex, one value that matches', { params: { _format: { $not: '#xml' } } }, '/p?_format=xml', false],
  ['$not regex, another value', { params: { _format: { $not: '#xml' } } }, '/p?_format=json', true],
  [
    '$not regex, absent (other parameters present)',
    { params: { _format: { $not: '#xml' } } },
    '/p?x=1',
    true,
  ],
  // No query at all: `params` is pruned away, and a map pattern needs a map (as before, as Aidbox).
  ['$not regex, no query', { params: { _format: { $not: '#xml' } } }, '/p', false],
  [
    '$not regex, repeated (a list): unknown',
    { params: { _format: { $not: '#xml' } } },
    '/p?_format=xml&_format=xml',
    false,
  ],
  [
    '$not literal, repeated: unknown',
    { params: { _format: { $not: 'xml' } } },
    '/p?_format=json&_format=xml',
    false,
  ],
  [
    '$not $contains, list without it',
    { params: { _include: { $not: { $contains: 'Patient:link' } } } },
    '/p?_include=a&_include=b',
    true,
  ],
  [
    '$not $contains, list with it',
    { params: { _include: { $not: { $contains: 'Patient:link' } } } },
    '/p?_include=a&_include=Patient:link',
    false,
  ],
  [
    '$not $contains, single value (a string): unknown',
    { params: { _include: { $not: { $contains: 'Patient:link' } } } },
    '/p?_include=Patient:link',
    false,
  ],
  [
    '$not $every on a string: unknown',
    { params: { _include: { $not: { $every: '#^Patient' } } } },
    '/p?_include=Observation',
    false,
  ],
  ['$not map on a string: unknown', { params: { x: { $not: { a: '1' } } } }, '/p?x=1', false],
  ['$not list on a string: unknown', { params: { x: { $not: ['a'] } } }, '/p?x=b', false],
  ['$not $enum on a list: unknown', { params: { x: { $not: { $enum: ['a'] } } } }, '/p?x=b&x=a', false],
  [
    '$not $one-of on a list: unknown',
    { params: { x: { $not: { '$one-of': ['a', '#b'] } } } },
    '/p?x=a&x=c',
    false,
  ],
  [
    '$not reference vs a list: unknown',
    { params: { patient: { $not: '.jwt.patient' } } },
    '/p?patient=pt-2&patient=pt-1',
    false,
  ],
  [
    '$not reference vs another value',
    { params: { patient: { $not: '.jwt.patient' } } },
    '/p?patient=pt-2',
    true,
  ],
  ['$not $length on a string: unknown', { params: { x: { $not: { $length: 2 } } } }, '/p?x=ab', false],
  ['double $not keeps unknown', { params: { x: { $not: { $not: 'a' } } } }, '/p?x=a&x=b', false],
  [
    'positive regex on a list: unknown, no allow',
    { params: { _format: '#json' } },
    '/p?_format=json&_format=xml',
    false,
  ],
  ['$contains on a list', { params: { _include: { $contains: 'a' } } }, '/p?_include=a&_include=b', true],
  [
    'nil? on a repeated parameter',
    { params: { _revinclude: 'nil?' } },
    '/p?_revinclude=a&_revinclude=b',
    false,
  ],
];

describe('matcho is three-valued: an unanticipated shape never allows (DESIGN §10)', () => {
  it.each(table)('%s', (_what, pattern, uri, allows) => {
    const policy = matcho(pattern);
    const context = ctx(uri);
    expect(policy.evaluate(context)).toBe(allows);
    expect(policy.explain(context).result).toBe(allows);
  });
});

describe('nothing read from an unavailable body allows (DESIGN §10)', () => {
  const unavailable = ctx('/fhir/Observation', {
    method: 'POST',
    body_unavailable: 'the body is gzip-encoded',
  });
  it.each([
    ['body nil?', { body: 'nil?' }],
    ['body absent-by-$not', { $not: { body: { status: 'preliminary' } } }],
    ['body field $not', { body: { status: { $not: 'preliminary' } } }],
    ['resource nil?', { resource: 'nil?' }],
    ['a reference into the body', { jwt: { patient: { $not: '.body.subject.id' } } }],
    ['body present?', { body: 'present?' }],
  ])('%s', (_what, pattern) => {
    expect(matcho(pattern).evaluate(unavailable)).toBe(false);
    expect(matcho(pattern).explain(unavailable).result).toBe(false);
  });
  it('still allows by what the policy reads when it does not read the body', () => {
    expect(matcho({ 'request-method': 'post', jwt: { sub: 'alice' } }).evaluate(unavailable)).toBe(true);
  });
  it('json-schema: a schema reading body is false, one not reading it decides as usual', () => {
    const schema = (s: unknown) =>
      compilePolicy({
        resourceType: 'AccessPolicy',
        id: 's',
        engine: 'json-schema',
        schema: s,
      } as AccessPolicy);
    const readsBody = { not: { properties: { body: { required: ['securityLabel'] } }, required: ['body'] } };
    expect(schema(readsBody).evaluate(unavailable)).toBe(false);
    expect(
      schema({ additionalProperties: true, properties: { jwt: { required: ['sub'] } } }).evaluate(
        unavailable,
      ),
    ).toBe(true);
    expect(schema({ patternProperties: { '^b': { type: 'string' } } }).evaluate(unavailable)).toBe(false);
    const readable = ctx('/fhir/Observation', { method: 'POST', body: { status: 'final' } });
    expect(schema(readsBody).evaluate(readable)).toBe(true);
  });
});
