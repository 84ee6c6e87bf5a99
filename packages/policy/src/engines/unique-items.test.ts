import type { AccessPolicy } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { buildRequestContext } from '../context/build.js';
import { compilePolicy } from '../policy.js';
import { allDistinct } from './unique-items.js';

describe('json-schema uniqueItems in linear time (DESIGN §10: bounded cost)', () => {
  it.each([
    [[1, 2, 3], true],
    [[1, 2, 1], false],
    [
      [
        { a: 1, b: 2 },
        { b: 2, a: 1 },
      ],
      false,
    ],
    [[{ a: [1, { c: 'x' }] }, { a: [1, { c: 'y' }] }], true],
    [['1', 1], true],
    [[null, 'null'], true],
    [
      [
        [1, 2],
        [2, 1],
      ],
      true,
    ],
  ])('%j distinct → %s', (list, distinct) => {
    expect(allDistinct(list)).toBe(distinct);
  });

  it('evaluates 15 000 distinct objects in one pass, not pair by pair', () => {
    const policy = compilePolicy({
      resourceType: 'AccessPolicy',
      id: 'unique',
      engine: 'json-schema',
      schema: { properties: { body: { properties: { entry: { type: 'array', uniqueItems: true } } } } },
    } as AccessPolicy);
    const entry = Array.from({ length: 15_000 }, (_, i) => ({ resource: { id: `r${i}`, x: 1 } }));
    const ctx = buildRequestContext({ method: 'POST', uri: '/fhir', body: { entry } });
    const started = performance.now();
    expect(policy.evaluate(ctx)).toBe(true);
    // Pair by pair is ~10^8 deep comparisons (seconds); one pass is milliseconds. The bound sits
    // between the two with room for a loaded CI box.
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(2000);
    const duplicate = buildRequestContext({
      method: 'POST',
      uri: '/fhir',
      body: { entry: [...entry, entry[5]] },
    });
    expect(policy.evaluate(duplicate)).toBe(false);
  });
});
