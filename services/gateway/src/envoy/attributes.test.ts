import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFromAttributes, type EnvoyCheckRequest, isIdentityLike } from './attributes.js';
import { allowResponse, grpcCodeOf } from './check-response.js';
import { targetProblem } from './target.js';

const request = (http: Record<string, unknown>, source?: Record<string, unknown>): EnvoyCheckRequest => ({
  attributes: { source, request: { http: { method: 'GET', path: '/fhir/Patient', ...http } } },
});

describe('Envoy attributes → check request (DESIGN §10, §14)', () => {
  it.each([
    ['/fhir/Patient?name=smith', undefined],
    ['/fhir/Patient/a%20b', undefined],
    ['fhir/Patient', 'not origin-form'],
    ['http://h/fhir', 'not origin-form'],
    ['/fhir/Patient#x', 'fragment'],
    ['/fhir/./Patient', 'dot-segment'],
    ['/fhir/%2E%2e/admin', 'dot-segment'],
    ['/fhir/..', 'dot-segment'],
    ['/fhir/Patient%2f1', 'encoded slash'],
    ['/fhir/Patient%5C1', 'encoded slash'],
    ['/fhir\\Patient', 'backslash'],
    ['/fhir/Patient;jsessionid=1', '";" parameter'],
    ['/fhir//Patient', 'empty segment'],
    ['/fhir/Patient%00', 'control character'],
    ['/fhir/Patient%zz', 'malformed percent-encoding'],
    ['/fhir/Patient?q=%0d%0a', 'NUL, CR, LF'],
  ])('target %s → %s', (uri, problem) => {
    const found = targetProblem(uri);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });

  it('drops pseudo-headers and every identity-like spelling, keeping their names for removal', () => {
    const mapped = checkFromAttributes(
      request(
        {
          host: 'fhir.example.com',
          scheme: 'https',
          headers: {
            ':path': '/x',
            ':authority': 'a',
            authorization: 'Bearer t',
            X_Authz_User: 'root',
            'x-authz-foo': '1',
          },
        },
        { address: { socket_address: { address: '198.51.100.7' } } },
      ),
      1024,
    );
    if ('reason' in mapped) throw new Error(mapped.reason);
    expect(mapped.check).toEqual({
      method: 'GET',
      uri: '/fhir/Patient',
      headers: { authorization: 'Bearer t', host: 'fhir.example.com' },
      remote_addr: '198.51.100.7',
      scheme: 'https',
      origin: 'https://fhir.example.com',
    });
    expect(mapped.identityLike.sort()).toEqual(['x-authz-foo', 'x_authz_user']);
  });

  it('keeps repeated headers of header_map apart, so two Authorization headers stay two', () => {
    const mapped = checkFromAttributes(
      request({
        header_map: {
          headers: [
            { key: 'authorization', raw_value: Buffer.from('Bearer a') },
            { key: 'authorization', raw_value: Buffer.from('Bearer b') },
          ],
        },
      }),
      1024,
    );
    if ('reason' in mapped) throw new Error(mapped.reason);
    expect(mapped.check.headers?.authorization).toEqual(['Bearer a', 'Bearer b']);
  });

  it.each([
    [{ method: 'POST', headers: {} }, { body_unavailable: 'the proxy did not send the body' }],
    [
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' },
      { body: { a: 1 } },
    ],
    [
      { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'hi' },
      { body_unavailable: "the body's media type text/plain is not JSON" },
    ],
    [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-envoy-auth-partial-body': 'true' },
        body: '{"a":',
      },
      { body_unavailable: 'the proxy sent only part of the body' },
    ],
    [
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2000) },
      { body_unavailable: 'the body is larger than 1024 bytes' },
    ],
    [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        raw_body: Buffer.from([1]),
      },
      { body_unavailable: 'the body is gzip-encoded' },
    ],
    [
      {
        method: 'POST',
        path: '/fhir/Patient/_search',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '_revinclude=Observation%3Asubject',
      },
      { body_form: '_revinclude=Observation%3Asubject' },
    ],
    [
      {
        method: 'PUT',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a=1',
      },
      { body_unavailable: 'a form body on a PUT: servers disagree on whether its fields are parameters' },
    ],
  ])('body %# is shown whole or marked unavailable', (http, expected) => {
    const mapped = checkFromAttributes(request(http), 1024);
    if ('reason' in mapped) throw new Error(mapped.reason);
    expect(mapped.check).toMatchObject(expected);
  });

  it('refuses a form body the query rules refuse', () => {
    const mapped = checkFromAttributes(
      request({
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'resource/id=pt-1',
      }),
      1024,
    );
    expect(mapped).toEqual({
      status: 400,
      reason: 'the form body parameter "resource/id" is a route parameter; it comes only from the path',
    });
  });

  it("names Envoy's scheme and host as the origin, or GATEWAY_PUBLIC_URL; never client-sent X-Forwarded-*", () => {
    const http = {
      scheme: 'https',
      host: 'fhir.example.com',
      headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' },
    };
    const own = checkFromAttributes(request(http), 1024);
    const pub = checkFromAttributes(request(http), 1024, 'https://api.example.com');
    const junk = checkFromAttributes(request({ ...http, host: 'a, b' }), 1024);
    if ('reason' in own || 'reason' in pub || 'reason' in junk) throw new Error('refused');
    expect(own.check.origin).toBe('https://fhir.example.com');
    expect(pub.check.origin).toBe('https://api.example.com');
    expect(junk.check.origin).toBeUndefined();
  });

  it('refuses malformed JSON, a bad certificate and too many headers', () => {
    expect(
      checkFromAttributes(
        request({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }),
        1024,
      ),
    ).toMatchObject({
      status: 400,
      reason: expect.stringMatching(/^the JSON body is malformed: /),
    });
    expect(checkFromAttributes(request({}, { certificate: 'not%20a%20cert' }), 1024)).toMatchObject({
      status: 400,
    });
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`h${i}`, 'v']));
    expect(checkFromAttributes(request({ headers: many }), 1024)).toMatchObject({ status: 431 });
  });

  it('maps the client certificate (URL-encoded PEM) to its RFC 8705 x5t#S256 thumbprint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'authz-cert-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          join(dir, 'k.pem'),
          '-out',
          join(dir, 'c.pem'),
          '-subj',
          '/CN=client',
          '-days',
          '1',
        ],
        { stdio: 'ignore' },
      );
      const pem = readFileSync(join(dir, 'c.pem'), 'utf8');
      const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      const mapped = checkFromAttributes(request({}, { certificate: encodeURIComponent(pem) }), 1024);
      if ('reason' in mapped) throw new Error(mapped.reason);
      expect((mapped.check as { client_cert_sha256?: string }).client_cert_sha256).toBe(
        createHash('sha256').update(der).digest('base64url'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads identity-like names the way §10 does', () => {
    expect(['X-Authz-User', 'x_authz_user', 'X_AUTHZ-whatever'].every(isIdentityLike)).toBe(true);
    expect(['x-authzuser', 'authorization', 'x-auth-user'].some(isIdentityLike)).toBe(false);
  });

  it('answers allow with overwrite headers and removes only identity-like headers it does not set', () => {
    const res = allowResponse({ 'x-authz-user': 'alice' }, ['x-authz-user', 'x_authz_user']);
    expect(res.ok_response).toEqual({
      headers: [
        {
          header: { key: 'x-authz-user', value: 'alice' },
          append: { value: false },
          append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
        },
      ],
      headers_to_remove: ['x_authz_user'],
    });
    expect([401, 403, 400, 413, 414, 431, 503].map(grpcCodeOf)).toEqual([16, 7, 7, 7, 7, 7, 14]);
  });
});
