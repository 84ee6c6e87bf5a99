import { describe, expect, it } from 'vitest';
import { type AuditEvent, bucketRows, historyQuery, NO_HISTORY_FILTER, toRow } from './query.js';

const event = (
  id: string,
  recorded: string,
  outcome: AuditEvent['outcome'],
  latency: string,
): AuditEvent => ({
  id,
  recorded,
  outcome,
  agent: [{ who: { reference: 'User/u1' } }, { who: { reference: 'Client/app' } }],
  entity: [
    { what: { reference: 'Patient/1' } },
    { what: { reference: 'AccessPolicy/p' } },
    {
      what: {},
      detail: [
        { type: 'method', valueString: 'GET' },
        { type: 'path', valueString: '/fhir/Patient/1' },
        { type: 'query', valueString: '_elements=name' },
        { type: 'status', valueString: outcome === '0' ? '200' : outcome === '8' ? '503' : '403' },
        { type: 'latency_ms', valueString: latency },
      ],
    },
  ],
});

describe('historyQuery', () => {
  it('asks for the newest page with no filter', () => {
    expect(historyQuery(NO_HISTORY_FILTER, 50)).toBe('?_count=50');
  });
  it('maps every filter onto the AuditEvent search parameters', () => {
    const q = historyQuery(
      { outcome: '4', user: ' u1 ', client: '', policy: 'p', from: '2026-12-06T10:00', to: '' },
      20,
      '99',
    );
    const params = new URLSearchParams(q);
    expect(params.get('outcome')).toBe('4');
    expect(params.get('agent')).toBe('User/u1');
    expect(params.get('policy')).toBe('p');
    expect(params.getAll('date')).toEqual([
      `ge${new Date('2026-12-06T10:00').toISOString().replace('.000Z', 'Z')}`,
    ]);
    expect(params.get('_cursor')).toBe('99');
  });
  it('filters by client when no user is given', () => {
    expect(new URLSearchParams(historyQuery({ ...NO_HISTORY_FILTER, client: 'app' }, 5)).get('agent')).toBe(
      'Client/app',
    );
  });
});

describe('toRow and bucketRows', () => {
  it('flattens an AuditEvent', () => {
    expect(toRow(event('7', '2026-12-06T10:00:00.000Z', '0', '0.5'))).toMatchObject({
      id: '7',
      status: 200,
      method: 'GET',
      uri: '/fhir/Patient/1?_elements=name',
      policy: 'p',
      user: 'u1',
      client: 'app',
      latency: 0.5,
    });
  });
  it('counts outcomes per bucket with the mean latency', () => {
    const t0 = Date.parse('2026-12-06T10:00:00.000Z');
    const rows = [
      event('1', '2026-12-06T10:00:01.000Z', '0', '1'),
      event('2', '2026-12-06T10:00:02.000Z', '4', '3'),
      event('3', '2026-12-06T10:00:09.000Z', '8', '2'),
      event('4', '2026-12-06T11:00:00.000Z', '0', '9'),
    ].map(toRow);
    expect(bucketRows(rows, t0, t0 + 10_000, 2)).toEqual([
      { start: t0, allowed: 1, denied: 1, unavailable: 0, latency: 2 },
      { start: t0 + 5000, allowed: 0, denied: 0, unavailable: 1, latency: 2 },
    ]);
  });
});
