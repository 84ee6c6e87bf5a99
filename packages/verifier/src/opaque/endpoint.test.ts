import { hashToken } from '@authz/protocol';
import { type IntrospectionServer, startIntrospectionServer } from '@authz/test-support';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compileOpaqueIntrospector } from './config.js';
import {
  callIntrospectionEndpoint,
  type IntrospectionAnswer,
  interpretIntrospectionResponse,
} from './endpoint.js';

const NOW = 1_767_225_600_000;
const nowSeconds = NOW / 1000;

describe('interpretIntrospectionResponse', () => {
  const cases: Array<[string, number, string, IntrospectionAnswer]> = [
    [
      'an active response is active with the whole response as claims',
      200,
      '{"active":true,"sub":"u1","scope":"a b"}',
      { kind: 'active', claims: { active: true, sub: 'u1', scope: 'a b' }, exp: undefined },
    ],
    [
      'an active response with a future exp keeps exp',
      200,
      `{"active":true,"exp":${nowSeconds + 60}}`,
      { kind: 'active', claims: { active: true, exp: nowSeconds + 60 }, exp: nowSeconds + 60 },
    ],
    [
      'an active response whose exp has passed is inactive',
      200,
      `{"active":true,"exp":${nowSeconds}}`,
      { kind: 'inactive' },
    ],
    ['active: false is inactive', 200, '{"active":false}', { kind: 'inactive' }],
    ['any 2xx status is read', 203, '{"active":false}', { kind: 'inactive' }],
    [
      'HTTP 500 is unavailable',
      500,
      '{"active":false}',
      { kind: 'unavailable', reason: 'answered HTTP 500' },
    ],
    [
      'HTTP 401 is unavailable',
      401,
      '{"error":"invalid_client"}',
      { kind: 'unavailable', reason: 'answered HTTP 401' },
    ],
    ['a redirect is unavailable', 302, '', { kind: 'unavailable', reason: 'answered HTTP 302' }],
    [
      'a JSON array is unavailable',
      200,
      '[{"active":true}]',
      { kind: 'unavailable', reason: 'answered with JSON that is not an object' },
    ],
    [
      'JSON null is unavailable',
      200,
      'null',
      { kind: 'unavailable', reason: 'answered with JSON that is not an object' },
    ],
    [
      'a missing active member is unavailable',
      200,
      '{"sub":"u1"}',
      { kind: 'unavailable', reason: 'answered without a boolean "active" member (RFC 7662 §2.2)' },
    ],
    [
      'a string active member is unavailable',
      200,
      '{"active":"true"}',
      { kind: 'unavailable', reason: 'answered without a boolean "active" member (RFC 7662 §2.2)' },
    ],
    [
      'a string exp is unavailable',
      200,
      '{"active":true,"exp":"tomorrow"}',
      { kind: 'unavailable', reason: 'answered with an "exp" that is not a NumericDate (RFC 7662 §2.2)' },
    ],
  ];
  it.each(cases)('%s', (_name, status, body, expected) => {
    expect(interpretIntrospectionResponse(status, body, NOW)).toEqual(expected);
  });

  it('reads a body that is not JSON as unavailable, keeping the parse error as cause', () => {
    const answer = interpretIntrospectionResponse(200, '<html>', NOW);
    expect(answer).toMatchObject({ kind: 'unavailable', reason: 'answered with a body that is not JSON' });
    expect((answer as { cause: unknown }).cause).toBeInstanceOf(SyntaxError);
  });
});

describe('callIntrospectionEndpoint against a real endpoint', () => {
  const AUTH = 'Basic Y2xpZW50OnNlY3JldA==';
  let server: IntrospectionServer;
  const limits = { timeoutMs: 300, maxResponseBytes: 64 * 1024, now: Date.now() };
  const record = (overrides: { url?: string; authorization?: string } = {}) =>
    compileOpaqueIntrospector(
      {
        id: 'idp',
        url: overrides.url ?? server.url,
        authorization: 'authorization' in overrides ? overrides.authorization : AUTH,
        cacheTtlSeconds: 300,
      },
      [],
    );

  beforeAll(async () => {
    server = await startIntrospectionServer({
      authorization: AUTH,
      tokens: { 'tok+/=&a': { active: true, sub: 'u1' } },
    });
  });
  afterAll(() => server.dispose());
  beforeEach(() => {
    server.setFailure(undefined);
    server.setDelay(0);
    server.resetCalls();
  });

  it('POSTs the token form-encoded with accept json and the configured authorization', async () => {
    const answer = await callIntrospectionEndpoint(record(), 'tok+/=&a', limits);
    expect(answer).toEqual({ kind: 'active', claims: { active: true, sub: 'u1' }, exp: undefined });
    expect(server.requests).toEqual([
      {
        method: 'POST',
        contentType: 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorized: true,
        tokenHash: hashToken('tok+/=&a'),
      },
    ]);
  });

  it('treats a refused client authentication (401) as unavailable, not inactive', async () => {
    const answer = await callIntrospectionEndpoint(
      record({ authorization: 'Basic wrong' }),
      'tok+/=&a',
      limits,
    );
    expect(answer).toEqual({ kind: 'unavailable', reason: 'answered HTTP 401' });
    const none = await callIntrospectionEndpoint(record({ authorization: undefined }), 'tok+/=&a', limits);
    expect(none).toEqual({ kind: 'unavailable', reason: 'answered HTTP 401' });
  });

  it.each([
    ['garbage', 'answered with a body that is not JSON'],
    ['status-500', 'answered HTTP 500'],
    ['not-object', 'answered with JSON that is not an object'],
  ] as const)('reads failure mode %s as unavailable', async (mode, reason) => {
    server.setFailure(mode);
    expect(await callIntrospectionEndpoint(record(), 'tok+/=&a', limits)).toMatchObject({
      kind: 'unavailable',
      reason,
    });
  });

  it('refuses a response over the size limit', async () => {
    server.setFailure('oversized');
    const answer = await callIntrospectionEndpoint(record(), 'tok+/=&a', limits);
    expect(answer).toMatchObject({
      kind: 'unavailable',
      reason: `did not answer: response from http://127.0.0.1:${server.port} exceeds 65536 bytes`,
    });
  });

  it('gives up after the timeout', async () => {
    server.setDelay(1000);
    const started = performance.now();
    const answer = await callIntrospectionEndpoint(record(), 'tok+/=&a', limits);
    expect(performance.now() - started).toBeLessThan(800);
    expect(answer).toMatchObject({
      kind: 'unavailable',
      reason: `did not answer: no answer from http://127.0.0.1:${server.port} within 300 ms`,
    });
  });

  it('never calls a URL the outbound rules refuse', async () => {
    const answer = await callIntrospectionEndpoint(
      record({ url: 'http://idp.example.com/introspect' }),
      'tok',
      limits,
    );
    expect(answer).toEqual({
      kind: 'unavailable',
      reason:
        'is refused: introspection_endpoint.url uses plain http for idp.example.com: use https, or list the host in AUTHZ_INSECURE_HOSTS',
    });
  });

  it('reports a refused connection as unavailable', async () => {
    const down = await startIntrospectionServer();
    await down.stop();
    const answer = await callIntrospectionEndpoint(record({ url: down.url }), 'tok', limits);
    expect(answer).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringMatching(/^did not answer: .*ECONNREFUSED/),
    });
  });
});
