import { describe, expect, it } from 'vitest';
import { ApiError } from '../http/errors.js';
import type { AuditDecision } from './balp.js';
import { matchesQuery, parseAuditQuery } from './search.js';

const parse = (qs: string) => parseAuditQuery(new URLSearchParams(qs));

function refusal(qs: string): string {
  try {
    parse(qs);
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) return err.message;
    throw err;
  }
  throw new Error(`accepted ${qs}`);
}

describe('parseAuditQuery', () => {
  it('defaults _count to 50', () => {
    expect(parse('')).toEqual({ count: 50 });
  });

  it.each([
    ['date=ge2026-12-06T10:00:00Z', { from: Date.parse('2026-12-06T10:00:00Z') }],
    ['date=le2026-12-06T10:00:00Z', { to: Date.parse('2026-12-06T10:00:00Z') + 999 }],
    ['date=le2026-12-06T10:00:00.250Z', { to: Date.parse('2026-12-06T10:00:00.250Z') }],
    [
      'date=2026-12-06',
      { from: Date.parse('2026-12-06T00:00:00Z'), to: Date.parse('2026-12-07T00:00:00Z') - 1 },
    ],
    ['date=lt2026-12', { to: Date.parse('2026-12-01T00:00:00Z') - 1 }],
    ['date=gt2026', { from: Date.parse('2027-01-01T00:00:00Z') }],
    [
      'date=ge2026-12-06T10:00:00%2B02:00&date=le2026-12-06T11:00:00Z',
      { from: Date.parse('2026-12-06T08:00:00Z'), to: Date.parse('2026-12-06T11:00:00Z') + 999 },
    ],
  ])('%s', (qs, bounds) => {
    expect(parse(qs)).toEqual({ count: 50, ...bounds });
  });

  it('reads outcome, agent and policy as any-of lists', () => {
    const q = parse('outcome=4,8&agent=User/u-1,Client/app&policy=AccessPolicy/p1,p2&_count=1000');
    expect(q.count).toBe(1000);
    expect([...(q.outcomes ?? [])]).toEqual(['4', '8']);
    expect(q.agents).toEqual([
      { type: 'User', id: 'u-1' },
      { type: 'Client', id: 'app' },
    ]);
    expect([...(q.policies ?? [])]).toEqual(['p1', 'p2']);
  });

  it.each([
    ['_count=0', '_count must be an integer from 1 to 1000'],
    ['_count=1001', '_count must be an integer from 1 to 1000'],
    ['_count=5&_count=6', '_count may be given once'],
    ['outcome=2', 'outcome must be 0, 4 or 8, not "2"'],
    ['agent=Patient/1', 'agent must be User/<id> or Client/<id>, not "Patient/1"'],
    [
      'date=ge2026-12-06T10:00:00',
      'date must be a FHIR dateTime with an optional ge/le/gt/lt prefix, not "ge2026-12-06T10:00:00"',
    ],
    ['date=yesterday', 'date must be a FHIR dateTime with an optional ge/le/gt/lt prefix, not "yesterday"'],
    [
      'outcom=4',
      'unknown search parameter "outcom"; supported: _count, date, outcome, agent, policy, _cursor, _format',
    ],
    ['_cursor=abc', '_cursor must be the value of a next link'],
  ])('refuses %s', (qs, message) => {
    expect(refusal(qs)).toBe(message);
  });
});

describe('matchesQuery', () => {
  const event: AuditDecision = {
    time: '2026-12-06T10:00:00.000Z',
    request_id: 'r',
    method: 'GET',
    uri: '/fhir/Patient/1',
    allow: false,
    status: 403,
    reason: 'no',
    user: 'u-1',
    client: 'app',
    latency: 1,
  };
  it.each([
    ['outcome=4', true],
    ['outcome=0,8', false],
    ['agent=User/u-1', true],
    ['agent=Client/app', true],
    ['agent=User/app', false],
    ['policy=p', false],
    ['date=ge2026-12-06T10:00:00Z', true],
    ['date=gt2026-12-06T10:00:00Z', false],
    ['date=2026-12-06', true],
  ])('%s → %s', (qs, expected) => {
    const q = parse(qs);
    expect(matchesQuery(event, '4', q)).toBe(expected);
  });
});
