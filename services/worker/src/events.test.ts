import { describe, expect, it } from 'vitest';
import { describeIdentity } from './decide.js';
import { decisionEvent, redactUri, scrubExplain } from './events.js';

describe('redactUri', () => {
  it.each([
    ['/fhir/Patient', '/fhir/Patient'],
    ['/a?name=x&access_token=SECRET', '/a?name=x&access_token=[redacted]'],
    ['/a?Token=SECRET&b=1', '/a?Token=[redacted]&b=1'],
    ['/cb?code=abc&state=s', '/cb?code=[redacted]&state=s'],
    ['/a?client_secret=s&password=p', '/a?client_secret=[redacted]&password=[redacted]'],
  ])('%s → %s', (uri, expected) => {
    expect(redactUri(uri)).toBe(expected);
  });
});

describe('decisionEvent', () => {
  it('carries who and why but never the token', () => {
    const event = decisionEvent(
      { requestId: 'r1', method: 'GET', uri: '/x?access_token=eyJhbGc', latencyMs: 0.1234, worker: 'w1' },
      {
        allow: true,
        status: 200,
        reason: 'allowed by AccessPolicy/p',
        policy: 'p',
        revision: 7,
        identity: { kind: 'jwt', introspector: 'i', sub: 's', user: 'u' },
      },
    );
    expect(event).toMatchObject({
      request_id: 'r1',
      method: 'GET',
      uri: '/x?access_token=[redacted]',
      allow: true,
      status: 200,
      policy: 'p',
      subject: 's',
      user: 'u',
      introspector: 'i',
      latency: 0.123,
      revision: 7,
      worker: 'w1',
    });
    expect(JSON.stringify(event)).not.toContain('eyJhbGc');
  });
});

describe('scrubExplain', () => {
  it('removes the bearer token wherever explain echoes it', () => {
    const token = 'eyJ.secret.sig';
    const scrubbed = scrubExplain(
      [
        {
          policy: 'p',
          engine: 'matcho',
          result: false,
          path: 'headers.authorization',
          expected: '#^Basic',
          actual: `Bearer ${token}`,
        },
      ],
      token,
    );
    expect(JSON.stringify(scrubbed)).not.toContain(token);
    expect(scrubbed[0]!.actual).toBe('Bearer [redacted]');
  });
});

describe('describeIdentity', () => {
  it('prefers box_user over sub (Aidbox) and finds the client id', () => {
    expect(
      describeIdentity({
        kind: 'jwt',
        introspector: 'i',
        claims: { iss: 'x', sub: 's', box_user: 'u', azp: 'c', exp: 5 },
      }),
    ).toEqual({
      kind: 'jwt',
      introspector: 'i',
      iss: 'x',
      sub: 's',
      user: 'u',
      client: 'c',
      exp: 5,
    });
    expect(
      describeIdentity({
        kind: 'opaque',
        introspector: 'o',
        claims: { active: true, sub: 's', client_id: 'c' },
      }),
    ).toEqual({
      kind: 'opaque',
      introspector: 'o',
      sub: 's',
      user: 's',
      client: 'c',
    });
  });
});
