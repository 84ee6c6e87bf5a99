import type { CheckReply } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { bearerChallenge, denialOf, headerSafe, identityHeaders } from './responses.js';

const allowed: CheckReply = {
  allow: true,
  status: 200,
  reason: 'allowed by AccessPolicy/p',
  policy: 'p',
  identity: { kind: 'jwt', introspector: 'i', sub: 's1', user: 'u1' },
};

describe('identityHeaders', () => {
  it('sets user, subject and policy of an allowing reply', () => {
    expect(identityHeaders(allowed)).toEqual({
      'x-authz-user': 'u1',
      'x-authz-subject': 's1',
      'x-authz-policy': 'p',
    });
  });

  it('sets nothing it does not know (an anonymous allow names only the policy)', () => {
    expect(identityHeaders({ allow: true, status: 200, reason: 'ok', policy: 'public' })).toEqual({
      'x-authz-policy': 'public',
    });
  });

  it('never lets a claim inject a header line', () => {
    const reply = {
      ...allowed,
      identity: { kind: 'jwt' as const, introspector: 'i', user: 'u\r\nx-evil: 1' },
    };
    expect(identityHeaders(reply)['x-authz-user']).toBe('u??x-evil: 1');
  });
});

describe('denialOf', () => {
  it.each<[string, CheckReply, number, Record<string, string>, string]>([
    [
      '401 with an RFC 6750 challenge',
      { allow: false, status: 401, error: 'invalid_token', reason: 'the token expired' },
      401,
      {
        'www-authenticate':
          'Bearer realm="authz", error="invalid_token", error_description="the token expired"',
      },
      'login',
    ],
    ['403', { allow: false, status: 403, reason: 'no AccessPolicy allows GET /x' }, 403, {}, 'forbidden'],
    ['400', { allow: false, status: 400, reason: 'malformed check request' }, 400, {}, 'invalid'],
    [
      '503 with Retry-After',
      { allow: false, status: 503, reason: 'no worker' },
      503,
      { 'retry-after': '1' },
      'transient',
    ],
  ])('%s', (_name, reply, status, extra, code) => {
    const denial = denialOf(reply);
    expect(denial.status).toBe(status);
    expect(denial.headers).toEqual({
      'content-type': 'application/fhir+json',
      'cache-control': 'no-store',
      ...extra,
    });
    expect(JSON.parse(denial.body)).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code, diagnostics: reply.reason }],
    });
  });
});

describe('bearerChallenge', () => {
  it('keeps the description a valid quoted-string (RFC 7235 §2.1)', () => {
    const reply: CheckReply = {
      allow: false,
      status: 401,
      error: 'invalid_request',
      reason: 'bad "x" \\ y\nz',
    };
    expect(bearerChallenge(reply)).toBe(
      `Bearer realm="authz", error="invalid_request", error_description="bad 'x' ' y?z"`,
    );
  });

  it('defaults the error to invalid_token', () => {
    expect(bearerChallenge({ allow: false, status: 401, reason: 'r' })).toBe(
      'Bearer realm="authz", error="invalid_token", error_description="r"',
    );
  });
});

describe('headerSafe', () => {
  it('keeps printable ASCII, replaces the rest and bounds the length', () => {
    expect(headerSafe('ascii ok')).toBe('ascii ok');
    expect(headerSafe('é\u0000\t')).toBe('???');
    expect(headerSafe('x'.repeat(600))).toHaveLength(512);
  });
});
