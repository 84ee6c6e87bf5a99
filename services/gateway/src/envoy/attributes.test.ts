import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRefusal, type RequestRefusal } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { TrustedProxies } from '../trusted-proxies.js';
import { type AttributesOptions, checkFromAttributes, type EnvoyCheckRequest } from './attributes.js';
import { wholeBodyProblem } from './body.js';
import { allowResponse, grpcCodeOf } from './check-response.js';

const request = (http: Record<string, unknown>, source?: Record<string, unknown>): EnvoyCheckRequest => ({
  attributes: { source, request: { http: { method: 'GET', path: '/fhir/Patient', ...http } } },
});

/** Envoy at 127.0.0.1 is trusted, and so is a load balancer in 10.0.0.0/8 in front of it. */
const options = (overrides: Partial<AttributesOptions> = {}): AttributesOptions => ({
  maxCheckBodyBytes: 1024,
  sender: {
    clientCertHeader: 'x-ssl-client-cert',
    trustedProxies: TrustedProxies.parse('127.0.0.1/32,10.0.0.0/8'),
  },
  peerAddress: '127.0.0.1',
  ...overrides,
});

const map = (message: EnvoyCheckRequest, overrides?: Partial<AttributesOptions>) =>
  checkFromAttributes(message, options(overrides));

/** The check of an accepted message (a refusal fails the test with its reason). */
function mapped(message: EnvoyCheckRequest, overrides?: Partial<AttributesOptions>) {
  const result = map(message, overrides);
  if (isRefusal(result)) throw new Error(result.reason);
  return result;
}

const WHOLE = { 'content-type': 'application/json', 'x-envoy-auth-partial-body': 'false' };

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
    ['/fhir/Patient?' + 'a=1&'.repeat(257), 'more than 256 parameters'],
  ])('target %s → %s', (uri, problem) => {
    const result = map(request({ path: uri }));
    if (problem === undefined) expect(isRefusal(result)).toBe(false);
    else expect((result as RequestRefusal).reason).toContain(problem);
  });

  it('keeps the status of a refused target (414 for too many parameters, DESIGN §14)', () => {
    expect(map(request({ path: `/x?${'a=1&'.repeat(257)}` }))).toMatchObject({ status: 414 });
  });

  it('drops pseudo-headers and every identity-like spelling, keeping their names for removal', () => {
    const result = mapped(
      request(
        {
          host: 'fhir.example.com',
          scheme: 'https',
          headers: {
            ':path': '/fhir/Patient',
            ':authority': 'fhir.example.com',
            authorization: 'Bearer t',
            X_Authz_User: 'root',
            'x-authz-foo': '1',
          },
        },
        { address: { socket_address: { address: '198.51.100.7' } } },
      ),
    );
    expect(result.check).toEqual({
      method: 'GET',
      uri: '/fhir/Patient',
      headers: { authorization: 'Bearer t', host: 'fhir.example.com' },
      remote_addr: '198.51.100.7',
      scheme: 'https',
      origin: 'https://fhir.example.com',
      // No body sent is not "no body" (Envoy without with_request_body, an HTTP/2 body).
      body_unavailable: 'the proxy did not send the body',
    });
    expect(result.identityLike.sort()).toEqual(['x-authz-foo', 'x_authz_user']);
  });

  it.each([
    ['query beside path', { query: 'a=1' }, 'attributes.request.http.query'],
    ['fragment beside path', { fragment: 'x' }, 'attributes.request.http.fragment'],
    ['a :path other than path', { headers: { ':path': '/fhir/Patient/2' } }, ':path header differs'],
    ['a :method other than method', { headers: { ':method': 'DELETE' } }, ':method header differs'],
    ['a host other than host', { host: 'a', headers: { host: 'b' } }, 'host header differs'],
    [
      'headers and header_map',
      { headers: { a: '1' }, header_map: { headers: [{ key: 'a', raw_value: Buffer.from('1') }] } },
      'both headers and header_map',
    ],
    [
      'value and raw_value',
      { header_map: { headers: [{ key: 'a', value: '1', raw_value: Buffer.from('2') }] } },
      'a different raw_value',
    ],
    [
      'body and raw_body',
      { method: 'POST', headers: WHOLE, body: '{"a":1}', raw_body: Buffer.from('{"a":2}') },
      'both body and raw_body',
    ],
    [
      'two Authorization headers joined by Envoy',
      { headers: { authorization: 'Bearer a,Bearer b' } },
      'more than one Authorization',
    ],
    ['a method override', { headers: { 'x-http-method-override': 'DELETE' } }, 'x-http-method-override'],
    ['two DPoP proofs joined by Envoy', { headers: { dpop: 'a.b.c,d.e.f' } }, 'more than one DPoP'],
  ])('refuses %s: Envoy never sends it, so the gateway would be guessing', (_what, http, reason) => {
    const result = map(request(http));
    expect(result).toMatchObject({ status: 400 });
    expect((result as RequestRefusal).reason).toContain(reason);
  });

  // [gRPC peer, attributes.source.address, X-Forwarded-For] → remote_addr, X-Forwarded-For seen by policies
  it.each([
    ['127.0.0.1', '203.0.113.9', undefined, '203.0.113.9', undefined],
    ['127.0.0.1', '198.51.100.7', '203.0.113.9', '198.51.100.7', undefined],
    ['127.0.0.1', '10.0.0.5', '6.6.6.6, 203.0.113.9', '203.0.113.9', '6.6.6.6, 203.0.113.9'],
    ['127.0.0.1', '10.0.0.5', '203.0.113.9, 10.0.0.9', '203.0.113.9', '203.0.113.9, 10.0.0.9'],
    ['192.0.2.7', '203.0.113.9', undefined, '192.0.2.7', undefined],
    ['192.0.2.7', '10.0.0.5', '203.0.113.9', '192.0.2.7', undefined],
    [undefined, '203.0.113.9', undefined, '', undefined],
  ])('peer %s, source %s, X-Forwarded-For %s → remote_addr %s', (peer, source, xff, remote, seen) => {
    const result = mapped(
      request(
        { headers: xff === undefined ? {} : { 'x-forwarded-for': xff, forwarded: 'for=6.6.6.6' } },
        { address: { socket_address: { address: source } } },
      ),
      { peerAddress: peer },
    );
    expect(result.check.remote_addr).toBe(remote);
    expect(result.check.headers?.['x-forwarded-for']).toBe(seen);
    if (seen === undefined) expect(result.check.headers?.forwarded).toBeUndefined();
  });

  it("believes an untrusted gRPC peer's scheme and certificate no more than its source address", () => {
    const result = mapped(
      request({ scheme: 'https', host: 'fhir.example.com' }, { certificate: 'not%20a%20cert' }),
      { peerAddress: '192.0.2.7' },
    );
    expect(result.check).toMatchObject({ scheme: 'http', origin: 'http://fhir.example.com' });
    expect(result.check.client_cert_sha256).toBeUndefined();
  });

  it('keeps repeated headers of header_map apart, so two Authorization headers stay two and are refused', () => {
    const result = map(
      request({
        header_map: {
          headers: [
            { key: 'authorization', raw_value: Buffer.from('Bearer a') },
            { key: 'authorization', raw_value: Buffer.from('Bearer b') },
          ],
        },
      }),
    );
    expect(result).toMatchObject({
      status: 400,
      reason: 'the request carries more than one Authorization header',
    });
  });

  it.each([
    [{ method: 'POST', headers: {} }, { body_unavailable: 'the proxy did not send the body' }],
    [
      { method: 'GET', headers: { 'transfer-encoding': 'chunked' } },
      { body_unavailable: 'the proxy did not send the body' },
    ],
    // An HTTP/2 body needs no Content-Length, and without with_request_body Envoy sends none.
    [{ method: 'GET', headers: {} }, { body_unavailable: 'the proxy did not send the body' }],
    [
      { method: 'GET', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      { body_unavailable: 'the proxy did not send the body' },
    ],
    [{ method: 'POST', headers: WHOLE, body: '{"a":1}' }, { body: { a: 1 } }],
    [{ method: 'POST', headers: WHOLE, raw_body: Buffer.from('{"a":1}') }, { body: { a: 1 } }],
    [
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' },
      {
        body_unavailable:
          'the proxy did not say whether the body is whole (x-envoy-auth-partial-body); let Envoy send that header to the gateway',
      },
    ],
    [
      { method: 'POST', headers: { ...WHOLE, 'content-length': '9' }, body: '{"a":1}' },
      { body_unavailable: 'the proxy sent 7 bytes of a body whose Content-Length is 9' },
    ],
    [
      { method: 'PUT', headers: { ...WHOLE, 'content-type': 'text/plain' }, body: 'hi' },
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
      { method: 'POST', headers: WHOLE, body: 'x'.repeat(2000) },
      { body_unavailable: 'the body is larger than 1024 bytes' },
    ],
    [
      { method: 'POST', headers: { ...WHOLE, 'content-encoding': 'gzip' }, raw_body: Buffer.from([1]) },
      { body_unavailable: 'the body is gzip-encoded' },
    ],
    [
      {
        method: 'POST',
        path: '/fhir/Patient/_search',
        headers: { ...WHOLE, 'content-type': 'application/x-www-form-urlencoded' },
        body: '_revinclude=Observation%3Asubject',
      },
      { body_form: '_revinclude=Observation%3Asubject' },
    ],
    [
      {
        method: 'PUT',
        headers: { ...WHOLE, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a=1',
      },
      { body_unavailable: 'a form body on a PUT: servers disagree on whether its fields are parameters' },
    ],
  ])('body %# is shown whole or marked unavailable', (http, expected) => {
    expect(mapped(request(http)).check).toMatchObject(expected);
  });

  it.each([
    ['false', 7, undefined, undefined],
    ['false', 7, '7', undefined],
    ['true', 7, undefined, 'the proxy sent only part of the body'],
    [['false', 'true'], 7, undefined, 'the proxy sent only part of the body'],
    ['false,true', 7, undefined, 'the proxy sent only part of the body'],
    ['FALSE', 7, undefined, 'the proxy sent only part of the body'],
    ['false', 7, ['7', '7'], 'the proxy sent 7 bytes of a body whose Content-Length is 7,7'],
  ])(
    'a body marked %j, %d bytes of Content-Length %j: whole unless Envoy says so exactly',
    (marker, received, length, problem) => {
      expect(wholeBodyProblem(marker, received, length)).toBe(problem);
    },
  );

  it('refuses a form body the query rules refuse', () => {
    const result = map(
      request({
        method: 'POST',
        headers: { ...WHOLE, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'resource/id=pt-1',
      }),
    );
    expect(result).toMatchObject({
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
    const own = mapped(request(http));
    const sender = { ...options().sender, publicOrigin: 'https://api.example.com' };
    const pub = mapped(request(http), { sender });
    const junk = mapped(request({ ...http, host: 'a, b' }));
    expect(own.check.origin).toBe('https://fhir.example.com');
    expect(pub.check.origin).toBe('https://api.example.com');
    expect(junk.check.origin).toBeUndefined();
  });

  it('refuses malformed JSON, a bad certificate and too many headers', () => {
    expect(map(request({ method: 'POST', headers: WHOLE, body: '{' }))).toMatchObject({
      status: 400,
      reason: expect.stringMatching(/^the JSON body is malformed: /),
    });
    expect(map(request({}, { certificate: 'not%20a%20cert' }))).toMatchObject({ status: 400 });
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`h${i}`, 'v']));
    expect(map(request({ headers: many }))).toMatchObject({ status: 431 });
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
      const certificate = { certificate: encodeURIComponent(pem) };
      expect(mapped(request({}, certificate)).check.client_cert_sha256).toBe(
        createHash('sha256').update(der).digest('base64url'),
      );
      // DESIGN §13: only a trusted proxy's word about the client certificate counts.
      expect(
        mapped(request({}, certificate), { peerAddress: '192.0.2.7' }).check.client_cert_sha256,
      ).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
      headers_to_remove: [
        'x_authz_user',
        'x-http-method-override',
        'x-http-method',
        'x-method-override',
        'x-original-url',
        'x-rewrite-url',
      ],
    });
    expect([401, 403, 400, 413, 414, 431, 503].map(grpcCodeOf)).toEqual([16, 7, 7, 7, 7, 7, 14]);
  });
});
