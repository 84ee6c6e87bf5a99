import { type CheckReply, wire } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { describeIdentity } from './described.js';
import { checkReplyJson, decisionEventJson, redactUri, scrubExplain, workerStatsJson } from './events.js';

describe('redactUri', () => {
  it.each([
    ['/fhir/Patient', '/fhir/Patient'],
    ['/a?name=x&access_token=SECRET', '/a?name=x&access_token=[redacted]'],
    ['/a?Token=SECRET&b=1', '/a?Token=[redacted]&b=1'],
    ['/cb?code=abc&state=s', '/cb?code=[redacted]&state=s'],
    ['/a?client_secret=s&password=p', '/a?client_secret=[redacted]&password=[redacted]'],
    ['/a?%61ccess_token=SECRET', '/a?%61ccess_token=[redacted]'],
    ['/a?API_KEY=k&_elements=name', '/a?API_KEY=[redacted]&_elements=name'],
    ['/a?_elements=name&_count=10', '/a?_elements=name&_count=10'],
    ['/a?tokenizer=1&keyword=x', '/a?tokenizer=1&keyword=x'],
  ])('%s → %s', (uri, expected) => {
    expect(redactUri(uri)).toBe(expected);
  });
});

describe('decisionEventJson', () => {
  const fields = {
    requestId: 'r1',
    method: 'GET',
    uri: '/x?access_token=eyJhbGc',
    latencyMs: 0.1234,
    worker: 'w1',
  };

  it('carries who and why but never the token', () => {
    const json = decisionEventJson(fields, {
      allow: true,
      status: 200,
      reason: 'allowed by AccessPolicy/p',
      policy: 'p',
      revision: 7,
      identity: { kind: 'jwt', introspector: 'i', sub: 's', user: 'u' },
    });
    const event = JSON.parse(json);
    expect(event).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      request_id: 'r1',
      method: 'GET',
      uri: '/x?access_token=[redacted]',
      allow: true,
      status: 200,
      reason: 'allowed by AccessPolicy/p',
      policy: 'p',
      subject: 's',
      user: 'u',
      introspector: 'i',
      latency: 0.123,
      revision: 7,
      worker: 'w1',
    });
    expect(Math.abs(Date.parse(event.time) - Date.now())).toBeLessThan(5000);
    expect(json).not.toContain('eyJhbGc');
  });

  it('names the client the token was issued to (DESIGN §14 audit agent)', () => {
    const event = JSON.parse(
      decisionEventJson(fields, {
        allow: false,
        status: 403,
        reason: 'no AccessPolicy allows',
        identity: { kind: 'jwt', introspector: 'i', sub: 's', client: 'billing-app' },
      }),
    );
    expect(event.client).toBe('billing-app');
    expect(event.user).toBeUndefined();
  });

  it('names the binding kind of a sender-constrained token (DESIGN §13), nothing of the proof', () => {
    const event = JSON.parse(
      decisionEventJson(fields, {
        allow: true,
        status: 200,
        reason: 'allowed by AccessPolicy/p',
        identity: { kind: 'jwt', introspector: 'i', binding: 'dpop' },
      }),
    );
    expect(event.binding).toBe('dpop');
  });

  it('scrubs the DPoP proof from explain like the token', () => {
    const entries = [
      { policy: 'p', engine: 'matcho', result: false, actual: { dpop: 'proof.jws.sig', a: 'DPoP tok' } },
    ];
    expect(scrubExplain(entries, 'tok', 'proof.jws.sig')[0]!.actual).toEqual({
      dpop: '[redacted]',
      a: 'DPoP [redacted]',
    });
  });

  it('is valid JSON whatever the strings hold, and omits what a denial does not have', () => {
    const awkward = 'quote " backslash \\ newline \n tab \t nul \u0000 emoji 🔑 \u2028';
    const event = JSON.parse(
      decisionEventJson(
        { ...fields, requestId: awkward, uri: `/a"b?q=${awkward}`, method: awkward },
        { allow: false, status: 401, error: 'invalid_token', reason: awkward },
      ),
    );
    expect(event).toMatchObject({
      request_id: awkward,
      method: awkward,
      uri: `/a"b?q=${awkward}`,
      reason: awkward,
      error: 'invalid_token',
      allow: false,
      status: 401,
    });
    for (const absent of ['policy', 'subject', 'user', 'client', 'introspector', 'revision'])
      expect(event).not.toHaveProperty(absent);
  });
});

describe('checkReplyJson', () => {
  const identity = {
    kind: 'jwt' as const,
    introspector: 'i',
    iss: 'https://x',
    sub: 's"',
    user: 'u',
    exp: 5,
  };
  it.each<[string, CheckReply]>([
    [
      'allowed',
      {
        allow: true,
        status: 200,
        reason: 'allowed by AccessPolicy/p',
        policy: 'p',
        identity,
        revision: 3,
        request_id: 'r',
      },
    ],
    [
      '401',
      {
        allow: false,
        status: 401,
        error: 'invalid_token',
        reason: 'bad "token"\n',
        revision: 0,
        request_id: 'r',
      },
    ],
    [
      '403 with explain',
      {
        allow: false,
        status: 403,
        reason: 'no AccessPolicy allows GET /x',
        identity,
        revision: 9,
        request_id: '🔑',
        explain: [
          { policy: 'p', engine: 'matcho', result: false, path: 'uri', expected: '#^/a', actual: '/x\u2028' },
        ],
      },
    ],
    [
      '401 with a DPoP challenge',
      {
        allow: false,
        status: 401,
        error: 'invalid_dpop_proof',
        auth_scheme: 'DPoP',
        reason: 'The DPoP proof was already used',
        revision: 1,
        request_id: 'r',
      },
    ],
    [
      '400 without revision',
      { allow: false, status: 400, reason: 'malformed check request: method is required' },
    ],
  ])('%s: the same JSON value as JSON.stringify', (_name, reply) => {
    expect(JSON.parse(checkReplyJson(reply))).toEqual(JSON.parse(JSON.stringify(reply)));
    // A cached token's identity JSON, written once, is the same value.
    if (reply.identity)
      expect(JSON.parse(checkReplyJson(reply, JSON.stringify(reply.identity)))).toEqual(
        JSON.parse(JSON.stringify(reply)),
      );
  });
});

describe('the hand-written serializers against the @authz/protocol schemas', () => {
  const identity = { kind: 'opaque' as const, introspector: 'o', sub: 's', user: 'u', client: 'c', exp: 9 };
  const replies: Array<[string, CheckReply]> = [
    [
      'allowed',
      { allow: true, status: 200, reason: 'allowed by AccessPolicy/p', policy: 'p', identity, revision: 1 },
    ],
    [
      '401 with a verifier code',
      { allow: false, status: 401, error: 'invalid_token', error_code: 'ERR_JWT_EXPIRED', reason: 'expired' },
    ],
    [
      '503 with a verifier code',
      { allow: false, status: 503, error_code: 'ERR_KEY_SOURCE_UNAVAILABLE', reason: 'down' },
    ],
    ['403', { allow: false, status: 403, reason: 'no', identity, request_id: 'r', explain: [] }],
    [
      '403 with nested explain',
      {
        allow: false,
        status: 403,
        reason: 'no',
        explain: [
          {
            policy: 'p',
            engine: 'complex',
            result: false,
            children: [{ policy: 'p', engine: 'matcho', result: false }],
          },
        ],
      },
    ],
    ['400', { allow: false, status: 400, reason: 'malformed check request: uri is required' }],
  ];
  const fields = { requestId: 'r1', method: 'GET', uri: '/a?b=1', latencyMs: 1.5, worker: 'w' };

  it.each(replies)('%s: checkReplyJson writes a valid CheckReply', (_name, reply) => {
    const json = JSON.parse(checkReplyJson(reply));
    expect(wire.CheckReply.firstProblem(json)).toBeUndefined();
  });

  it.each(replies)('%s: decisionEventJson writes a valid DecisionEvent', (_name, reply) => {
    const event = JSON.parse(decisionEventJson(fields, reply));
    expect(wire.DecisionEvent.firstProblem(event)).toBeUndefined();
    expect(event.error_code).toBe(reply.error_code);
    expect(event.client).toBe(reply.identity?.client);
  });

  it.each([
    ['host:1234', 0],
    ['wörker "quoted"', 1_234_567],
  ])('workerStatsJson(%j, %d) writes a valid WorkerStats', (worker, published) => {
    const stats = JSON.parse(workerStatsJson(worker, published));
    expect(wire.WorkerStats.firstProblem(stats)).toBeUndefined();
    expect(stats).toEqual({ worker, published });
  });

  it('the schemas refuse what the serializers must never write', () => {
    expect(wire.CheckReply.firstProblem({ allow: true, status: 200, reason: 'x', token: 'eyJ' })).toBe(
      '/token is not a field of CheckReply',
    );
    expect(
      wire.DecisionEvent.firstProblem({
        ...JSON.parse(decisionEventJson(fields, replies[0]![1])),
        latency: -1,
      }),
    ).toBe('/latency must be >= 0');
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
