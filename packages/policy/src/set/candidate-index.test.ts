import type { AccessPolicy } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { buildRequestContext } from '../context/build.js';
import { compilePolicy } from '../policy.js';
import { CandidateIndex, type Entry, entryOf } from './candidate-index.js';

const compile = (id: string, body: Record<string, unknown>) =>
  compilePolicy({ resourceType: 'AccessPolicy', id, ...body } as AccessPolicy);

/** One policy of each way of being filed: role, exact URI, URI prefix, strict and lenient pins, links, nothing. */
const shapes = (i: number) => [
  compile(`r${i}`, { engine: 'allow', roleName: `role-${i}` }),
  compile(`u${i}`, { engine: 'matcho', matcho: { uri: `/exact/${i}` } }),
  compile(`x${i}`, { engine: 'matcho', matcho: { uri: `#^/prefix${'/p'.repeat(i % 4)}/${i}` } }),
  compile(`m${i}`, { engine: 'matcho', matcho: { jwt: { [`claim${i % 3}`]: `v${i}` } } }),
  compile(`s${i}`, {
    engine: 'json-schema',
    schema: {
      required: ['jwt'],
      properties: { jwt: { required: ['sub'], properties: { sub: { const: `s${i}` } } } },
    },
  }),
  compile(`l${i}`, {
    engine: 'allow',
    link: [{ resourceType: 'User', id: `user-${i}` }, { reference: `Client/c${i}` }],
  }),
  compile(`n${i}`, { engine: 'matcho', matcho: { 'request-method': { $not: 'get' } } }),
];

describe('CandidateIndex', () => {
  it('forgets every table, value, path and link of the policies removed from it', () => {
    const index = new CandidateIndex();
    const baseline = index.footprint();
    const entries: Entry[] = [];
    for (let i = 0; i < 40; i++) {
      for (const policy of shapes(i)) {
        const entry = entryOf(policy);
        entry.order = entries.length;
        entries.push(entry);
        index.add(entry);
      }
    }
    const full = index.footprint();
    expect(full.pinTables).toBe(4); // jwt.claim0..2 (strict), jwt.sub (lenient)
    expect(full.prefixLengths).toBe(4 * 2); // four depths, one and two digit ids
    expect(full.links).toBe(80);
    // Remove in an order unrelated to insertion, checking nothing is asked of a removed policy.
    for (let k = 0; k < entries.length; k++) index.remove(entries[(k * 113) % entries.length] as Entry);
    expect(index.footprint()).toEqual(baseline);
    const ctx = buildRequestContext({ method: 'POST', uri: '/prefix/p/p/p/7' });
    ctx.jwt = 'not a map';
    expect(index.candidates(ctx, { user: 'user-1', client: 'c1', roles: new Set(['role-1']) })).toEqual([]);
  });
});
