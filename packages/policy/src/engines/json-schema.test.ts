import type { AccessPolicy } from '@authz/protocol';
import { Ajv } from 'ajv';
import { describe, expect, it, vi } from 'vitest';
import { PolicyConfigError } from '../errors.js';
import { compilePolicy } from '../policy.js';

const schemaPolicy = (schema: unknown, id = 'p') =>
  ({ resourceType: 'AccessPolicy', id, engine: 'json-schema', schema }) as AccessPolicy;

// The seed's policy, verbatim (Aidbox docs write `constant` for `const`).
const seed = schemaPolicy({
  required: ['jwt'],
  properties: { jwt: { required: ['iss'], properties: { iss: { constant: 'https://auth.example.com' } } } },
});

describe('json-schema engine', () => {
  it.each([
    [{ jwt: { iss: 'https://auth.example.com', sub: 'some-user-id' } }, true],
    [{ jwt: { iss: 'https://evil.example.com' } }, false],
    [{ jwt: { sub: 'x' } }, false],
    [{}, false],
  ])('treats constant as const (seed policy) for %j → %s', (ctx, allowed) => {
    expect(compilePolicy(seed).evaluate(ctx)).toBe(allowed);
  });

  it('rewrites constant at every schema position, but not a property named constant', () => {
    const compiled = compilePolicy(
      schemaPolicy({
        required: ['constant'],
        properties: { constant: { type: 'string' } },
        anyOf: [{ properties: { a: { items: { constant: 1 } } } }],
      }),
    );
    expect(compiled.evaluate({ constant: 'x', a: [1, 1] })).toBe(true);
    expect(compiled.evaluate({ constant: 'x', a: [1, 2] })).toBe(false);
    expect(compiled.evaluate({ a: [1] })).toBe(false);
  });

  it('lets const win when a schema has both', () => {
    const compiled = compilePolicy(schemaPolicy({ properties: { x: { const: 'a', constant: 'b' } } }));
    expect(compiled.evaluate({ x: 'a' })).toBe(true);
  });

  it('accepts loosely written Aidbox schemas (strict mode off)', () => {
    // properties without type, required without properties, unknown keywords.
    const compiled = compilePolicy(
      schemaPolicy({
        required: ['user'],
        properties: { params: { required: ['resource/type'] } },
        'x-note': 1,
      }),
    );
    expect(compiled.evaluate({ user: { id: 'u' } })).toBe(true);
  });

  it('explains a denial with ajv errors, all of them', () => {
    const entry = compilePolicy(
      schemaPolicy({ required: ['jwt', 'user'], properties: { uri: { const: '/a' } } }),
    ).explain({ uri: '/b' });
    expect(entry).toMatchObject({
      policy: 'p',
      engine: 'json-schema',
      result: false,
      detail: "(request) must have required property 'jwt'",
    });
    expect(entry.errors).toEqual([
      {
        instancePath: '',
        schemaPath: '#/required',
        keyword: 'required',
        params: { missingProperty: 'jwt' },
        message: "must have required property 'jwt'",
      },
      {
        instancePath: '',
        schemaPath: '#/required',
        keyword: 'required',
        params: { missingProperty: 'user' },
        message: "must have required property 'user'",
      },
      {
        instancePath: '/uri',
        schemaPath: '#/properties/uri/const',
        keyword: 'const',
        params: { allowedValue: '/a' },
        message: 'must be equal to constant',
      },
    ]);
  });

  it('explains an allowed request without errors', () => {
    expect(compilePolicy(seed).explain({ jwt: { iss: 'https://auth.example.com' } })).toEqual({
      policy: 'p',
      engine: 'json-schema',
      result: true,
    });
  });

  it('runs schema patterns on the bounded-time engine', () => {
    const compiled = compilePolicy(
      schemaPolicy({ required: ['uri'], properties: { uri: { pattern: '^/fhir/(Patient|Encounter)/' } } }),
    );
    expect(compiled.evaluate({ uri: '/fhir/Patient/1' })).toBe(true);
    expect(compiled.evaluate({ uri: '/fhir/Observation/1' })).toBe(false);
    const redos = compilePolicy(schemaPolicy({ properties: { h: { pattern: '(a+)+$' } }, required: ['h'] }));
    const started = performance.now();
    expect(redos.evaluate({ h: `${'a'.repeat(16_000)}!` })).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('defers code generation when lazy, and a deferred failure evaluates false', () => {
    // An unresolvable $ref passes the meta-schema; only code generation finds it.
    const broken = schemaPolicy({ $ref: '#/definitions/missing' });
    expect(() => compilePolicy(broken)).toThrow(PolicyConfigError);
    const lazy = compilePolicy(broken, { lazy: true });
    expect(lazy.evaluate({})).toBe(false);
    expect(lazy.explain({})).toMatchObject({ result: false, detail: expect.stringMatching(/failed closed/) });
  });

  it('still checks the schema against the meta-schema when lazy', () => {
    expect(() => compilePolicy(schemaPolicy({ type: 'nope' }), { lazy: true })).toThrow(/schema.type/);
  });

  it('shares one compiled validator between identical schemas, whatever their key order', () => {
    const compile = vi.spyOn(Ajv.prototype, 'compile');
    try {
      const shared = { x: { const: 'shared' }, y: { type: 'string' } };
      const a = compilePolicy(schemaPolicy({ required: ['x'], properties: shared }, 'a'), { lazy: true });
      const b = compilePolicy(
        schemaPolicy({ properties: { y: { type: 'string' }, x: { const: 'shared' } }, required: ['x'] }, 'b'),
        { lazy: true },
      );
      expect(compile).toHaveBeenCalledTimes(0);
      expect(a.evaluate({ x: 'shared' })).toBe(true);
      for (let i = 0; i < 10; i++)
        compilePolicy(schemaPolicy({ properties: shared, required: ['x'] }, `c${i}`));
      expect(b.evaluate({ x: 'other' })).toBe(false);
      expect(compile).toHaveBeenCalledTimes(1);
    } finally {
      compile.mockRestore();
    }
  });

  describe('$data references (Aidbox tutorials, DESIGN §12)', () => {
    // "Patients read only themselves": the route id must equal the token's pid claim.
    const own = schemaPolicy({
      required: ['params', 'jwt'],
      properties: {
        params: {
          required: ['resource/id'],
          properties: { 'resource/id': { constant: { $data: '#/jwt/pid' } } },
        },
      },
    });
    it.each([
      ['the same id', { params: { 'resource/id': 'pt-1' }, jwt: { pid: 'pt-1' } }, true],
      ['another id', { params: { 'resource/id': 'pt-2' }, jwt: { pid: 'pt-1' } }, false],
      ['a token without the claim', { params: { 'resource/id': 'pt-1' }, jwt: { sub: 'u' } }, false],
      ['a claim of another JSON type', { params: { 'resource/id': '1' }, jwt: { pid: 1 } }, false],
    ])('compares with the request: %s → %s', (_what, ctx, allowed) => {
      expect(compilePolicy(own).evaluate(ctx)).toBe(allowed);
    });

    it('reads plain and escaped pointers, and compares objects by value', () => {
      const policy = compilePolicy(
        schemaPolicy({ properties: { a: { const: { $data: '/b~1c' } }, o: { const: { $data: '#/p' } } } }),
      );
      expect(policy.evaluate({ a: 1, 'b/c': 1, o: { x: [1] }, p: { x: [1] } })).toBe(true);
      expect(policy.evaluate({ a: 1, 'b/c': 1, o: { x: [1] }, p: { x: [2] } })).toBe(false);
    });

    it.each([
      [{ $data: '1/up' }, 'schema.properties.a.const.$data', /only absolute \$data pointers/],
      [{ $data: 7 }, 'schema.properties.a.const.$data', /must be a JSON pointer string/],
      [{ $data: '#/%E0%A4%A' }, 'schema.properties.a.const.$data', /not valid percent-encoding/],
    ])('refuses the reference %j at PUT', (ref, path, message) => {
      try {
        compilePolicy(schemaPolicy({ properties: { a: { const: ref } } }));
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(PolicyConfigError);
        const issue = (err as PolicyConfigError).issues[0];
        expect(issue?.path).toBe(path);
        expect(issue?.message).toMatch(message);
      }
    });
  });
});
