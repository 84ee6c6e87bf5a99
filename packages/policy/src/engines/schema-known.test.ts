import type { AccessPolicy } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { buildRequestContext } from '../context/build.js';
import { compilePolicy } from '../policy.js';
import { SCHEMA_STEP_BUDGET, spentSchemaSteps } from './schema-budget.js';

const schema = (s: unknown) =>
  compilePolicy({ resourceType: 'AccessPolicy', id: 's', engine: 'json-schema', schema: s } as AccessPolicy);
const param = (name: string, s: unknown) => ({ properties: { params: { properties: { [name]: s } } } });
const jwt = { sub: 'alice', patient: 'pt-1', aud: ['a', 'b'] };
const get = (uri: string) => buildRequestContext({ method: 'GET', uri }, { jwt });

/** [what, schema, request target, allows?] — DESIGN §10: unknown never allows, negated or not. */
const table: [string, unknown, string, boolean][] = [
  ['not const, one other value', param('_format', { not: { const: 'xml' } }), '/p?_format=json', true],
  [
    'not const, repeated: unknown',
    param('_format', { not: { const: 'xml' } }),
    '/p?_format=xml&_format=xml',
    false,
  ],
  ['not enum, repeated: unknown', param('x', { not: { enum: ['a'] } }), '/p?x=b&x=a', false],
  ['not pattern, repeated: unknown', param('x', { not: { pattern: 'a' } }), '/p?x=b&x=a', false],
  ['pattern, repeated: unknown (no vacuous pass)', param('x', { pattern: '^b$' }), '/p?x=b&x=a', false],
  ['pattern, one value', param('x', { pattern: '^b$' }), '/p?x=b', true],
  ['maximum on a string parameter: unknown', param('_count', { maximum: 10 }), '/p?_count=999', false],
  ['contains on one value: unknown', param('x', { contains: { const: 'a' } }), '/p?x=b', false],
  ['contains on a list', param('x', { contains: { const: 'a' } }), '/p?x=b&x=a', true],
  ['not contains on one value: unknown', param('x', { not: { contains: { const: 'a' } } }), '/p?x=b', false],
  [
    'type says lists are expected',
    param('x', { type: 'array', not: { contains: { const: 'a' } } }),
    '/p?x=b&x=c',
    true,
  ],
  [
    'type says either shape is expected',
    param('x', { type: ['string', 'array'], not: { const: 'a' } }),
    '/p?x=b&x=c',
    true,
  ],
  ['double not keeps unknown', param('x', { not: { not: { const: 'a' } } }), '/p?x=a&x=b', false],
  [
    'oneOf with an unknown branch',
    { oneOf: [param('x', { const: 'a' }), { required: ['params'] }] },
    '/p?x=a&x=b',
    false,
  ],
  // biome-ignore lint/suspicious/noThenProperty: a JSON Schema if/then
  ['if with an unknown condition', { if: param('x', { const: 'a' }), then: false }, '/p?x=a&x=a', false],
  [
    'anyOf: a known true branch still allows',
    { anyOf: [param('x', { const: 'a' }), { required: ['jwt'] }] },
    '/p?x=a&x=b',
    true,
  ],
  [
    'not allOf: a known false conjunct still decides',
    { not: { allOf: [param('x', { const: 'a' }), false] } },
    '/p?x=a&x=b',
    false,
  ],
  [
    '$data to a missing claim under not: unknown',
    param('patient', { not: { const: { $data: '#/jwt/missing' } } }),
    '/p?patient=x',
    false,
  ],
  [
    '$data to a present claim under not',
    param('patient', { not: { const: { $data: '#/jwt/patient' } } }),
    '/p?patient=x',
    true,
  ],
  [
    'not const on a list claim (aud): unknown',
    { properties: { jwt: { properties: { aud: { not: { const: 'c' } } } } } },
    '/p',
    false,
  ],
  [
    '$ref: unknown anywhere is unknown',
    {
      definitions: { f: { not: { const: 'a' } } },
      properties: { params: { properties: { x: { $ref: '#/definitions/f' } } } },
    },
    '/p?x=a&x=a',
    false,
  ],
];

describe('json-schema is three-valued: an unanticipated shape or missing data never allows (DESIGN §10)', () => {
  it.each(table)('%s', (_what, s, uri, allows) => {
    const policy = schema(s);
    const ctx = get(uri);
    expect(policy.evaluate(ctx)).toBe(allows);
    expect(policy.explain(ctx).result).toBe(allows);
  });

  it('explains an unknown: where, and why it never allows', () => {
    const negated = schema(param('_format', { not: { const: 'xml' } })).explain(
      get('/p?_format=xml&_format=xml'),
    );
    expect(negated.detail).toMatch(
      /\/params\/_format is a list, a shape this schema was not written for.*never allows/,
    );
    const positive = schema(param('x', { pattern: '^b$' })).explain(get('/p?x=b&x=a'));
    // Where the subschema must hold, unknown is false: it is given the type it was written for.
    expect(positive.detail).toBe('/params/x must be string');
  });

  it('keeps JSON Schema reading for object keywords: a recursive "no securityLabel anywhere" walker', () => {
    const walker = schema({
      definitions: {
        clean: {
          not: { type: 'object', required: ['securityLabel'] },
          additionalProperties: { $ref: '#/definitions/clean' },
          items: { $ref: '#/definitions/clean' },
        },
      },
      properties: { body: { $ref: '#/definitions/clean' } },
    });
    const post = (body: unknown) => buildRequestContext({ method: 'POST', uri: '/fhir/Encounter', body });
    expect(
      walker.evaluate(post({ resourceType: 'Encounter', status: 'finished', period: { start: '2026' } })),
    ).toBe(true);
    expect(walker.evaluate(post({ contained: [{ meta: { securityLabel: [{ code: 'R' }] } }] }))).toBe(false);
  });
});

/** A body nested `depth` levels: `{a: {a: … {x: 1}}}`. */
function nestedBody(depth: number): unknown {
  let body: unknown = { x: 1 };
  for (let i = 0; i < depth; i++) body = { a: body };
  return body;
}

describe('json-schema evaluation has a budget (DESIGN §10: bounded cost)', () => {
  // Each level tries three branches that recurse before they fail: 3^60 applications unbounded.
  const lateFailing = (name: string) => ({
    allOf: [{ properties: { a: { $ref: '#/definitions/n' } } }, { required: [name] }],
  });
  const exponential = {
    definitions: { n: { anyOf: [lateFailing('q1'), lateFailing('q2'), lateFailing('q3')] } },
    properties: { body: { $ref: '#/definitions/n' } },
  };

  it('stops an exponential $ref/anyOf recursion and fails closed, in bounded time', () => {
    const policy = schema(exponential);
    const ctx = buildRequestContext({ method: 'POST', uri: '/fhir/Observation', body: nestedBody(60) });
    const started = performance.now();
    expect(policy.evaluate(ctx)).toBe(false);
    expect(spentSchemaSteps()).toBeGreaterThan(SCHEMA_STEP_BUDGET);
    const entry = policy.explain(ctx);
    const elapsed = performance.now() - started;
    expect(entry.result).toBe(false);
    expect(entry.detail).toContain(`more than ${SCHEMA_STEP_BUDGET} steps`);
    // Unbounded, this never returns; bounded, it is milliseconds (generous for a loaded machine).
    expect(elapsed).toBeLessThan(2000);
    // A shallow body of the same shape decides normally: the budget is not a blanket refusal.
    const shallow = buildRequestContext({ method: 'POST', uri: '/fhir/Observation', body: nestedBody(4) });
    expect(policy.evaluate(shallow)).toBe(false);
    expect(spentSchemaSteps()).toBeLessThan(5000);
  });

  it('stops a subschema applied to every key of a huge map, charged by the keys it walks', () => {
    const wide: Record<string, string> = {};
    for (let i = 0; i < 40_000; i++) wide[`k${i}`] = 'vvvvvvvvvv';
    const policy = schema({
      properties: { body: { additionalProperties: { anyOf: [{ pattern: '^a' }, { pattern: 'v{10}' }] } } },
    });
    const ctx = buildRequestContext({ method: 'POST', uri: '/fhir/Basic', body: wide });
    const started = performance.now();
    expect(policy.evaluate(ctx)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(policy.explain(ctx).detail).toContain('steps');
  });

  it('leaves an ordinary body-reading policy well inside the budget', () => {
    const policy = schema({
      properties: { body: { properties: { entry: { items: { required: ['resource'] } } } } },
    });
    const entry = Array.from({ length: 2000 }, (_, i) => ({ resource: { id: `r${i}` } }));
    expect(policy.evaluate(buildRequestContext({ method: 'POST', uri: '/fhir', body: { entry } }))).toBe(
      true,
    );
  });
});
