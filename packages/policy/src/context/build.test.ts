import { describe, expect, it } from 'vitest';
import { BODY_UNAVAILABLE, buildRequestContext, contextClaims } from './build.js';
import { pruneEmpty } from './prune.js';
import { parseFhirRoute } from './route.js';

describe('parseFhirRoute', () => {
  it.each([
    ['/fhir/Patient', { type: 'Patient' }],
    ['/fhir/Patient/pt-1', { type: 'Patient', id: 'pt-1' }],
    ['/fhir/Patient/pt-1/_history/2', { type: 'Patient', id: 'pt-1', vid: '2' }],
    ['/fhir/Patient/pt-1/_history', { type: 'Patient', id: 'pt-1' }],
    ['/Patient/pt-1', { type: 'Patient', id: 'pt-1' }],
    ['/Patient/pt-1/_history/7', { type: 'Patient', id: 'pt-1', vid: '7' }],
    ['/Patient', { type: 'Patient' }],
    ['/fhir/Patient/_search', { type: 'Patient' }],
    ['/fhir/Patient/pt-1/$everything', { type: 'Patient', id: 'pt-1' }],
    ['/fhir/metadata', {}],
    ['/fhir/$export', {}],
    ['/fhir', {}],
    ['/', {}],
    ['relative/Patient', {}],
    ['/api/Patient/1', {}],
  ])('%s → %j', (path, route) => {
    expect(parseFhirRoute(path)).toEqual(route);
  });
});

describe('buildRequestContext', () => {
  it('builds the Aidbox request shape', () => {
    const ctx = buildRequestContext(
      {
        method: 'GET',
        uri: '/fhir/Patient/pt-1/_history/3?_elements=id&name=a&name=b',
        headers: { Authorization: 'Bearer t', 'X-Trace': ['a', 'b'], Cookie: ['s=1', 't=2'] },
        remote_addr: '203.0.113.9',
        scheme: 'https',
      },
      {
        jwt: { iss: 'i', sub: 's' },
        user: { id: 'u1' },
        role: [{ name: 'admin' }],
        client: { id: 'c1' },
        token: { active: true },
      },
    );
    expect(ctx).toEqual({
      'request-method': 'get',
      scheme: 'https',
      uri: '/fhir/Patient/pt-1/_history/3',
      'query-string': '_elements=id&name=a&name=b',
      params: {
        _elements: 'id',
        name: ['a', 'b'],
        'resource/type': 'Patient',
        'resource/id': 'pt-1',
        'resource/vid': '3',
      },
      headers: { authorization: 'Bearer t', 'x-trace': 'a, b', cookie: 's=1; t=2' },
      'remote-addr': '203.0.113.9',
      jwt: { iss: 'i', sub: 's' },
      token: { active: true },
      user: { id: 'u1' },
      role: [{ name: 'admin' }],
      client: { id: 'c1' },
    });
  });

  it.each([
    ['a=1', { a: '1' }],
    ['a=1&a=2&a=3', { a: ['1', '2', '3'] }],
    ['q=hello+world&e=%C3%A9', { q: 'hello world', e: 'é' }],
    ['flag&x=', {}],
    ['&&a=b&', { a: 'b' }],
    ['x=a=b', { x: 'a=b' }],
    ['toString=a&constructor=b&hasOwnProperty=c', { toString: 'a', constructor: 'b', hasOwnProperty: 'c' }],
  ])('parses the query string %s', (query, params) => {
    const ctx = buildRequestContext({ method: 'GET', uri: `/x?${query}` });
    expect(ctx.params ?? {}).toEqual(params);
  });

  it('takes route parameters from the decoded path only', () => {
    const ctx = buildRequestContext({ method: 'GET', uri: '/fhir/Patient/%70t-2?_id=a' });
    expect(ctx.uri).toBe('/fhir/Patient/pt-2');
    expect(ctx.params).toEqual({ _id: 'a', 'resource/type': 'Patient', 'resource/id': 'pt-2' });
  });

  it.each([
    'https://api.example.com/fhir/Patient?x=1',
    '/p#frag',
    '/Patient/real?resource/type=Encounter',
    '/x?bad=%E0%A4%A',
  ])('refuses to build a context for %s (the caller checks the target first)', (uri) => {
    expect(() => buildRequestContext({ method: 'get', uri })).toThrow();
  });

  it('shows an unavailable body as BODY_UNAVAILABLE under body and resource', () => {
    const ctx = buildRequestContext({
      method: 'POST',
      uri: '/x',
      body_unavailable: 'the body is gzip-encoded',
    });
    expect(ctx.body).toBe(BODY_UNAVAILABLE);
    expect(ctx.resource).toBe(BODY_UNAVAILABLE);
  });

  it('lower-cases the method and header names, merging repeated names', () => {
    const ctx = buildRequestContext({ method: 'PoSt', uri: '/', headers: { 'X-A': '1', 'x-a': '2' } });
    expect(ctx['request-method']).toBe('post');
    expect(ctx.headers).toEqual({ 'x-a': '1, 2' });
    const named = buildRequestContext({
      method: 'GET',
      uri: '/',
      headers: { Constructor: 'c', toString: 't' },
    });
    expect(named.headers).toEqual({ constructor: 'c', tostring: 't' });
  });

  it('removes empty values recursively', () => {
    const ctx = buildRequestContext(
      {
        method: 'GET',
        uri: '/x?',
        headers: { 'x-empty': '' },
        body: { a: '', b: [], c: {}, d: null, e: { f: [null, ''] }, g: 0, h: false },
      },
      { jwt: { iss: 'i', aud: [], extra: { nested: '' } }, user: {}, role: [], client: undefined },
    );
    expect(ctx).toEqual({ 'request-method': 'get', uri: '/x', body: { g: 0, h: false }, jwt: { iss: 'i' } });
  });

  it('takes claims pruned once by their owner as they are, and prunes raw claims per request', () => {
    const claims = { iss: 'i', aud: [], extra: { nested: '' } };
    const once = contextClaims(claims);
    const pre = buildRequestContext({ method: 'GET', uri: '/' }, { jwt: once });
    const raw = buildRequestContext({ method: 'GET', uri: '/' }, { jwt: claims });
    expect(pre.jwt).toEqual({ iss: 'i' });
    expect(raw.jwt).toEqual({ iss: 'i' });
    expect(buildRequestContext({ method: 'GET', uri: '/' }, { token: once }).token).toBe(pre.jwt);
    expect(
      buildRequestContext({ method: 'GET', uri: '/' }, { jwt: contextClaims({ a: '' }) }),
    ).not.toHaveProperty('jwt');
  });

  it('does not copy identity objects that hold no empty value', () => {
    const user = { id: 'u1', data: { roles: ['a'] } };
    expect(buildRequestContext({ method: 'GET', uri: '/' }, { user }).user).toBe(user);
  });
});

describe('pruneEmpty', () => {
  it.each([
    ['', undefined],
    [null, undefined],
    [[], undefined],
    [{}, undefined],
    [[null, 'a', ''], ['a']],
    [{ a: { b: {} } }, undefined],
    [
      { a: 0, b: false },
      { a: 0, b: false },
    ],
  ])('%j → %j', (input, output) => {
    expect(pruneEmpty(input)).toEqual(output);
  });

  it('never mutates its input and never copies __proto__', () => {
    const input = JSON.parse('{"a":"","__proto__":{"polluted":true},"b":1}');
    const out = pruneEmpty(input) as Record<string, unknown>;
    expect(out).toEqual({ b: 1 });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(input.a).toBe('');
  });
});
