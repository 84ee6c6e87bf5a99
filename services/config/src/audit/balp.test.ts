import { describe, expect, it } from 'vitest';
import { type AuditDecision, outcomeOf, toAuditEvent } from './balp.js';

const base: AuditDecision = {
  time: '2026-12-06T10:00:00.000Z',
  request_id: 'req-1',
  method: 'GET',
  uri: '/fhir/Patient/pt-1?_elements=name&access_token=[redacted]',
  allow: true,
  status: 200,
  reason: 'allowed by AccessPolicy/p1',
  policy: 'p1',
  subject: 's',
  user: 'u-1',
  client: 'app',
  introspector: 'idp',
  latency: 0.42,
  worker: 'w1',
};

describe('outcomeOf', () => {
  it.each([
    [true, 200, '0'],
    [false, 400, '4'],
    [false, 401, '4'],
    [false, 403, '4'],
    [false, 503, '8'],
  ] as const)('allow=%s status=%s → %s', (allow, status, outcome) => {
    expect(outcomeOf({ allow, status })).toBe(outcome);
  });
});

describe('toAuditEvent', () => {
  it('is a BALP RESTful read naming the user, the client, the patient and the policy', () => {
    const ae = toAuditEvent(7, base);
    expect(ae).toMatchObject({
      resourceType: 'AuditEvent',
      id: '7',
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }],
      action: 'R',
      recorded: '2026-12-06T10:00:00.000Z',
      outcome: '0',
      source: { observer: { display: 'authz-worker w1' } },
    });
    expect(ae.agent.map((a) => [a.who.reference, a.requestor])).toEqual([
      ['User/u-1', true],
      ['Client/app', false],
    ]);
    const refs = ae.entity.map((e) => e.what.reference).filter(Boolean);
    expect(refs).toEqual(['Patient/pt-1', 'AccessPolicy/p1']);
    const request = ae.entity.at(-1);
    if (!request?.detail) throw new Error('no request entity');
    const detail = Object.fromEntries(request.detail.map((d) => [d.type, d.valueString]));
    expect(detail).toMatchObject({
      method: 'GET',
      path: '/fhir/Patient/pt-1',
      query: '_elements=name&access_token=[redacted]',
      status: '200',
      latency_ms: '0.42',
    });
  });

  it('names an anonymous denial and a 503 with its stable error code', () => {
    const ae = toAuditEvent(8, {
      ...base,
      allow: false,
      status: 503,
      reason: 'the key source is unreachable',
      policy: undefined,
      user: undefined,
      client: undefined,
      subject: undefined,
      error_code: 'ERR_JWKS_UNAVAILABLE',
      uri: '/metadata',
    });
    expect(ae.outcome).toBe('8');
    expect(ae.subtype).toBeUndefined();
    expect(ae.agent).toEqual([expect.objectContaining({ who: { display: 'anonymous' }, requestor: true })]);
    const detail = Object.fromEntries((ae.entity.at(-1)?.detail ?? []).map((d) => [d.type, d.valueString]));
    expect(detail.error_code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(detail.query).toBeUndefined();
  });
});
