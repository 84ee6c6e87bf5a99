import { describe, expect, it } from 'vitest';
import { readRequestBody } from './body.js';
import { canonicalCheck } from './canonical.js';
import { contentTypeCharset, queryCharsetRefusal } from './charset.js';
import { isRefusal } from './refusal.js';

const refusalOf = (value: unknown) => (isRefusal(value) ? value : undefined);

describe('contentTypeCharset and queryCharsetRefusal (one charset, UTF-8 for a percent-encoded query)', () => {
  it.each([
    ['application/json', undefined],
    ['application/json; charset=UTF-8', 'utf-8'],
    ['application/json;charset="utf8"', 'utf8'],
    // Ring finds a charset after other parameters and whitespace too.
    ['text/plain; x=1 charset=IBM037', 'ibm037'],
  ])('reads %j as %j', (type, charset) => {
    expect(contentTypeCharset(type)).toBe(charset);
  });

  it('refuses a Content-Type naming two charsets (servlets read the first, Ring the last)', () => {
    expect(refusalOf(contentTypeCharset('application/json; charset=utf-8; charset=latin1'))?.refused).toBe(
      'header_ambiguous',
    );
    expect(
      refusalOf(
        readRequestBody(
          Buffer.from('a=1'),
          'application/x-www-form-urlencoded; charset=utf-8; charset=ibm037',
          undefined,
          'POST',
        ),
      )?.refused,
    ).toBe('header_ambiguous');
  });

  it.each([
    ['_format=%F0%A7%94%93', 'text/plain; charset=IBM037', 'query_encoding'],
    ['name=%C3%A9', ['application/json; charset=latin1'], 'query_encoding'],
    ['name=a', 'text/plain; charset=utf-8; charset=ibm037', 'header_ambiguous'],
    ['name=%C3%A9', 'application/json; charset=utf-8', undefined],
    ['name=plain', 'application/json; charset=latin1', undefined],
    // ASCII escapes under a charset that reads ASCII as ASCII mean the same to every server.
    ['identifier=http%3A%2F%2Fx%7C1', 'application/fhir+xml; charset=ISO-8859-1', undefined],
    ['q=a%20b', 'text/plain; charset=windows-1252', undefined],
    ['name=%e9', 'application/fhir+xml; charset=ISO-8859-1', 'query_encoding'],
    ['q=a%20b', 'text/plain; charset=utf-16', 'query_encoding'],
    ['q=a%20b', 'text/plain; charset=IBM037', 'query_encoding'],
    ['name=%C3%A9', 'application/json', undefined],
    ['name=%C3%A9', undefined, undefined],
  ])('query %j with Content-Type %j: %s', (query, type, code) => {
    expect(queryCharsetRefusal(query, type)?.refused).toBe(code);
  });

  it('refuses the same in a check request, and a body_form beside a non-UTF-8 charset', () => {
    const refused = canonicalCheck({
      method: 'GET',
      uri: '/fhir/Binary?_format=%F0%A7%94%93',
      headers: { 'content-type': 'text/plain; charset=IBM037' },
    });
    expect(refusalOf(refused)?.refused).toBe('query_encoding');
    const form = canonicalCheck({
      method: 'POST',
      uri: '/fhir/Patient/_search',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=ibm037' },
      body_form: 'name=a',
    });
    expect(refusalOf(form)?.reason).toContain('names the charset ibm037');
  });
});
