import { describe, expect, it } from 'vitest';
import { buildCheckRequest, type RequestForm } from './build.js';

const form = (f: Partial<RequestForm>): RequestForm => ({
  method: 'GET',
  uri: '/fhir/Patient',
  headers: '',
  token: '',
  body: '',
  ...f,
});

describe('buildCheckRequest', () => {
  it.each([
    ['a bare request', form({}), { request: { method: 'GET', uri: '/fhir/Patient', headers: {} } }],
    [
      'a pasted token',
      form({ token: ' eyJ.a.b ' }),
      { request: { method: 'GET', uri: '/fhir/Patient', headers: { authorization: 'Bearer eyJ.a.b' } } },
    ],
    [
      'a token pasted with its scheme',
      form({ token: 'bearer abc' }),
      { request: { method: 'GET', uri: '/fhir/Patient', headers: { authorization: 'Bearer abc' } } },
    ],
    [
      'headers, lower-cased, repeated ones as a list, comments skipped',
      form({ method: 'post', headers: 'X-A: 1\n# note\n\nx-a: 2\nContent-Type: application/json' }),
      {
        request: {
          method: 'POST',
          uri: '/fhir/Patient',
          headers: { 'x-a': ['1', '2'], 'content-type': 'application/json' },
        },
      },
    ],
    [
      'a JSON body',
      form({ body: '{"a":1}' }),
      { request: { method: 'GET', uri: '/fhir/Patient', headers: {}, body: { a: 1 } } },
    ],
    ['a method with digits', form({ method: 'G3T' }), { error: 'the method must be letters only, e.g. GET' }],
    ['a full URL', form({ uri: 'http://x/y' }), { error: expect.stringContaining('must start with /') }],
    [
      'a header line without colon',
      form({ headers: 'ok: 1\nbroken' }),
      { error: 'header line 2 is not "Name: value"' },
    ],
    [
      'a body that is not JSON',
      form({ body: '{a' }),
      { error: expect.stringContaining('the body is not JSON') },
    ],
  ])('%s', (_name, input, expected) => {
    expect(buildCheckRequest(input)).toEqual(expected);
  });
});
