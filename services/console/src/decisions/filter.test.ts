import { describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../api/types.js';
import { type DecisionFilter, filterQuery, matchesFilter, NO_FILTER } from './filter.js';

const EVENT: DecisionEvent = {
  time: '2025-01-01T00:00:00.000Z',
  request_id: 'r1',
  method: 'GET',
  uri: '/fhir/Patient',
  allow: false,
  status: 403,
  reason: 'no policy allows',
  user: 'alice',
  latency: 0.2,
};

const filter = (f: Partial<DecisionFilter>): DecisionFilter => ({ ...NO_FILTER, ...f });

describe('decision filters', () => {
  it.each([
    ['no filter', filter({}), '', true],
    ['status list holding the status', filter({ status: '401, 403' }), '?status=401%2C403', true],
    ['status list without it', filter({ status: '200' }), '?status=200', false],
    ['junk in the status list is ignored', filter({ status: 'x,403' }), '?status=403', true],
    ['allow=false', filter({ allow: 'false' }), '?allow=false', true],
    ['allow=true', filter({ allow: 'true' }), '?allow=true', false],
    ['the user', filter({ user: ' alice ' }), '?user=alice', true],
    ['another user', filter({ user: 'bob' }), '?user=bob', false],
    ['a policy the event has not', filter({ policy: 'p1' }), '?policy=p1', false],
  ])('%s', (_name, f, query, matches) => {
    expect(filterQuery(f)).toBe(query);
    expect(matchesFilter(EVENT, f)).toBe(matches);
  });
});
