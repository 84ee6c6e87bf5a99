import type { AccessPolicy, CheckRequest } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { buildRequestContext } from '../../context/build.js';
import { partialityOf } from '../../context/partial.js';
import { compilePolicy } from '../../policy.js';

const matcho = (pattern: Record<string, unknown>) =>
  compilePolicy({ resourceType: 'AccessPolicy', id: 'p', engine: 'matcho', matcho: pattern } as AccessPolicy);
const schema = (s: unknown) =>
  compilePolicy({ resourceType: 'AccessPolicy', id: 's', engine: 'json-schema', schema: s } as AccessPolicy);

const jwt = { sub: 'alice', patient: 'pt-1' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const ctx = (request: Partial<CheckRequest> & { uri: string }) =>
  buildRequestContext({ method: 'POST', headers: FORM, ...request }, { jwt });

/** POST _search through forward-auth: its parameters may be in a body nobody showed the worker. */
const unseen = ctx({
  uri: '/fhir/Patient/_search?_count=10',
  body_unavailable: 'forward-auth does not receive the request body',
});
const WHY =
  "the request's search parameters may be in its body, which policies cannot see (forward-auth does not receive the request body)";

describe('params merge the query and a POST form body (DESIGN §10)', () => {
  it('lists a name in both, query first, as a repeated query parameter', () => {
    const context = ctx({
      uri: '/fhir/Patient/_search?patient=pt-1&_count=10',
      body_form: 'patient=pt-2&_revinclude=Observation%3Asubject&_count=',
    });
    expect(context.params).toEqual({
      patient: ['pt-1', 'pt-2'],
      // `_count=` in the body is empty: pruned, leaving a list of one (as `?_count=10&_count=`).
      _count: ['10'],
      _revinclude: 'Observation:subject',
      'resource/type': 'Patient',
    });
    expect(context['query-string']).toBe('patient=pt-1&_count=10');
  });

  it.each([
    [
      'Aidbox advice: no _revinclude',
      { params: { _revinclude: 'nil?' } },
      '_revinclude=Observation:subject',
      false,
    ],
    ['Aidbox advice: no _revinclude, none sent', { params: { _revinclude: 'nil?' } }, 'name=smith', true],
    ['patient of the token', { params: { patient: '.jwt.patient' } }, 'patient=pt-1', true],
    [
      'patient of the token, someone else in the body',
      { params: { patient: '.jwt.patient' } },
      'patient=pt-9',
      false,
    ],
    [
      '$not regex on a repeated name (query and body): unknown',
      { params: { _count: { $not: '#^1' } } },
      '_count=5',
      false,
    ],
  ])('%s', (_what, pattern, form, allows) => {
    const context = ctx({ uri: '/fhir/Patient/_search?_count=10', body_form: form });
    expect(matcho(pattern).evaluate(context)).toBe(allows);
  });
});

describe('params a body may hold unseen never allow; the route still does (DESIGN §10)', () => {
  it('holds only the route parameters, marked partial', () => {
    expect(unseen.params).toEqual({ 'resource/type': 'Patient' });
    expect(partialityOf(unseen.params)?.reason).toBe(WHY);
  });

  it.each([
    ['nil? of an unseen key', { params: { _revinclude: 'nil?' } }],
    ['$not of an unseen key', { params: { _revinclude: { $not: 'present?' } } }],
    ['$not around the params map', { $not: { params: { _revinclude: 'present?' } } }],
    ['a key the query carries too', { params: { _count: '10' } }],
    ['a reference to the token', { params: { patient: '.jwt.patient' } }],
    ['params nil?', { params: 'nil?' }],
    ['params $not present?', { params: { $not: 'present?' } }],
    ['an empty map pattern', { params: {} }],
    ['a reference into params', { jwt: { patient: { $not: '.params.patient' } } }],
    ['a reference to params whole', { jwt: { $not: { patient: '.params' } } }],
  ])('%s is unknown', (_what, pattern) => {
    expect(matcho(pattern).evaluate(unseen)).toBe(false);
    const explained = matcho(pattern).explain(unseen);
    expect(explained.result).toBe(false);
  });

  it('explains why', () => {
    expect(matcho({ params: { _revinclude: 'nil?' } }).explain(unseen).detail).toBe(
      `params._revinclude: ${WHY}: unknown`,
    );
  });

  it('decides by the route parameters, which come only from the path', () => {
    expect(matcho({ params: { 'resource/type': 'Patient', 'resource/id': 'nil?' } }).evaluate(unseen)).toBe(
      true,
    );
    expect(matcho({ params: { 'resource/type': 'Observation' } }).evaluate(unseen)).toBe(false);
  });

  it('decides as before when the policy does not read params', () => {
    expect(matcho({ 'request-method': 'post', jwt: { sub: 'alice' } }).evaluate(unseen)).toBe(true);
  });

  it('json-schema: a schema reading params is false with a reason, one not reading it decides as usual', () => {
    const readsParams = {
      properties: { params: { not: { required: ['_revinclude'] } } },
      required: ['params'],
    };
    expect(schema(readsParams).evaluate(unseen)).toBe(false);
    expect(schema(readsParams).explain(unseen, 's')).toMatchObject({
      result: false,
      detail: `the schema reads params, and ${WHY}`,
      path: 'params',
    });
    expect(schema({ properties: { jwt: { required: ['sub'] } } }).evaluate(unseen)).toBe(true);
    expect(
      schema({ properties: { jwt: { properties: { patient: { const: { $data: '#/params' } } } } } }).evaluate(
        unseen,
      ),
    ).toBe(false);
    const seen = ctx({ uri: '/fhir/Patient/_search', body_form: 'name=smith' });
    expect(schema(readsParams).evaluate(seen)).toBe(true);
  });
});
