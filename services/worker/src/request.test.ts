import { describe, expect, it } from 'vitest';
import { bearerToken, parseCheckRequest } from './request.js';

const manyHeaders = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, 'v']));
const manyValues = (n: number) => Array.from({ length: n }, () => 'v');
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

describe('parseCheckRequest', () => {
  it('lower-cases header names and splits the path from the query', () => {
    const parsed = parseCheckRequest(
      enc({
        method: 'get',
        uri: '/fhir/Patient?name=x',
        headers: { Authorization: 'Bearer t', 'X-Foo': 'a' },
      }),
    );
    expect(parsed).toMatchObject({
      method: 'GET',
      path: '/fhir/Patient',
      request: { headers: { authorization: 'Bearer t', 'x-foo': 'a' } },
    });
  });

  it.each([
    ['not JSON', '{nope', 'the body is not valid JSON'],
    ['no method', { uri: '/' }, "request must have required property 'method'"],
    ['no uri', { method: 'GET' }, "request must have required property 'uri'"],
    ['method of wrong type', { method: 1, uri: '/' }, 'method must be string'],
    ['header of wrong type', { method: 'GET', uri: '/', headers: { a: 1 } }, 'headers.a must be string'],
    ['empty uri', { method: 'GET', uri: '' }, 'uri must NOT have fewer than 1 characters'],
    [
      'too many headers',
      { method: 'GET', uri: '/', headers: manyHeaders(257) },
      'headers must NOT have more than 256 properties',
    ],
    ['method outside the pattern', { method: 'G T', uri: '/' }, 'method must match pattern "^[A-Za-z-]+$"'],
    ['explain not boolean', { method: 'GET', uri: '/', explain: 'yes' }, 'explain must be boolean'],
    [
      'header list too long',
      { method: 'GET', uri: '/', headers: { a: manyValues(65) } },
      'headers.a must be string',
    ],
  ])('refuses %s with a reason naming the field', (_name, body, reason) => {
    expect(parseCheckRequest(enc(body))).toBe(reason);
  });

  it('drops a "__proto__" header instead of letting it replace the prototype', () => {
    const parsed = parseCheckRequest(enc('{"method":"GET","uri":"/","headers":{"__proto__":["x"],"A":"b"}}'));
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(Object.getPrototypeOf(parsed.request.headers)).toBe(Object.prototype);
    expect(parsed.request.headers).toEqual({ a: 'b' });
  });

  it('counts string limits in UTF-16 units, never laxer than code points', () => {
    // 40 000 astral characters: 40 000 code points (under the 65 536 limit) but 80 000 units.
    const header = '🔑'.repeat(40_000);
    expect(parseCheckRequest(enc({ method: 'GET', uri: '/', headers: { x: header } }))).toBe(
      'headers.x expected union value',
    );
    expect(
      parseCheckRequest(enc({ method: 'GET', uri: '/', headers: { x: '🔑'.repeat(30_000) } })),
    ).toMatchObject({
      method: 'GET',
    });
  });
});

describe('parseCheckRequest: body_form (a POST form body, DESIGN §10)', () => {
  const search = (fields: Record<string, unknown>) =>
    parseCheckRequest(
      enc({
        method: 'POST',
        uri: '/fhir/Patient/_search',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        ...fields,
      }),
    );

  it('parses its fields beside the query', () => {
    expect(search({ body_form: 'name=smith&_count=10' })).toMatchObject({
      canonical: { formParams: { name: 'smith', _count: '10' } },
    });
  });

  it.each([
    [{ body_form: `a=${'x'.repeat(65_536)}` }, 'body_form must NOT have more than 65536 characters'],
    [{ body_form: ['a=1'] }, 'body_form must be string'],
  ])('refuses a malformed one (%#)', (fields, reason) => {
    expect(search(fields)).toBe(reason);
  });

  it.each([
    [
      { body: {}, body_form: 'a=1' },
      'the check request carries both body and body_form; a request has one body',
    ],
    [
      { body_form: 'resource/id=pt-1' },
      'the form body parameter "resource/id" is a route parameter; it comes only from the path',
    ],
    [{ body_form: 'name=a%0D%0Ab' }, 'the form body part "a%0D%0Ab" encodes NUL, CR, LF'],
  ])('refuses one the query rules refuse, or one beside a JSON body (%#)', (fields, reason) => {
    expect(search(fields)).toEqual({ refused: 'body_form', status: 400, reason });
  });
});

describe('parseCheckRequest: a body spliced in as text (the gateway client) is read as strictly', () => {
  const message = (body: string) =>
    enc(
      `{"method":"POST","uri":"/fhir/Observation","headers":{"content-type":"application/json"},"body":${body}}`,
    );

  it.each([
    ['a repeated key', '{"status":"final","status":"preliminary"}', 'the key "status" appears twice'],
    [
      'a repeated key spelt with an escape',
      '{"a":{"st\\u0061tus":1,"status":2}}',
      'the key "status" appears twice',
    ],
    ['nesting past the bound', `${'['.repeat(65)}${']'.repeat(65)}`, 'deeper than 64'],
  ])('refuses %s with 400', (_what, body, reason) => {
    const refusal = parseCheckRequest(message(body));
    expect(refusal).toMatchObject({ status: 400, refused: 'body_json' });
    expect((refusal as { reason: string }).reason).toContain(reason);
  });

  it('accepts the same keys in different objects, and key-like strings', () => {
    const body = ' { "a" : { "b" : "\\"b\\":" } , "c" : [ { "a" : 1 } , { "a" : 2 } ] } ';
    expect(parseCheckRequest(message(body))).toMatchObject({
      request: { body: { a: { b: '"b":' }, c: [{ a: 1 }, { a: 2 }] } },
    });
  });

  it('refuses a repeated member of the message itself', () => {
    const text = '{"method":"GET","uri":"/fhir/Patient","uri":"/admin","body":null}';
    expect(parseCheckRequest(enc(text))).toMatchObject({ status: 400 });
  });
});

describe('bearerToken (RFC 6750 §2.1)', () => {
  it.each([
    [{}, { none: true }],
    [{ authorization: 'Bearer abc.def' }, { token: 'abc.def' }],
    [{ authorization: 'bearer   abc' }, { token: 'abc' }],
    [{ authorization: 'BEARER abc' }, { token: 'abc' }],
    [{ authorization: 'Bearer' }, { problem: 'the Authorization header says Bearer but carries no token' }],
    [
      { authorization: 'Basic dXNlcjpwdw==' },
      { problem: 'Authorization scheme "Basic" is not supported; send "Bearer <token>"' },
    ],
    [
      { authorization: ['Bearer a', 'Bearer b'] },
      { problem: 'the request carries more than one Authorization header' },
    ],
    [
      { authorization: `Bearer ${'a'.repeat(16 * 1024 + 1)}` },
      { problem: 'the bearer token is longer than 16384 bytes' },
    ],
  ])('%j → %j', (headers, expected) => {
    expect(bearerToken(headers as Record<string, string>)).toEqual(expected);
  });
});
