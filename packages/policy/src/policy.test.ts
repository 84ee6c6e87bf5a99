import type { AccessPolicy } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { PolicyConfigError } from './errors.js';
import { compilePolicy } from './policy.js';

const policy = (body: Record<string, unknown>) =>
  ({ resourceType: 'AccessPolicy', id: 'p', ...body }) as AccessPolicy;

function issuesOf(body: Record<string, unknown>): {
  code: string;
  issues: { path: string; message: string }[];
} {
  try {
    compilePolicy(policy(body));
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyConfigError);
    const e = err as PolicyConfigError;
    return { code: e.code, issues: e.issues };
  }
  throw new Error('compiled without error');
}

describe('compilePolicy refuses invalid policies, naming the path', () => {
  const invalid: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'unknown matcho operator',
      { engine: 'matcho', matcho: { uri: { $regex: 'x' } } },
      'matcho.uri.$regex',
      /unknown matcho operator \$regex/,
    ],
    [
      'malformed regex',
      { engine: 'matcho', matcho: { uri: '#(' } },
      'matcho.uri',
      /invalid regular expression/,
    ],
    [
      'regex with backreference',
      { engine: 'matcho', matcho: { uri: '#(a)\\1' } },
      'matcho.uri',
      /cannot be evaluated in linear time/,
    ],
    [
      'regex with lookahead',
      { engine: 'matcho', matcho: { headers: { x: '#^(?=a)' } } },
      'matcho.headers.x',
      /linear time/,
    ],
    [
      'inline flags other than (?i)',
      { engine: 'matcho', matcho: { uri: '#(?s)a' } },
      'matcho.uri',
      /only a leading \(\?i\)/,
    ],
    [
      'empty context path',
      { engine: 'matcho', matcho: { params: { id: '.user..id' } } },
      'matcho.params.id',
      /not a context path/,
    ],
    [
      '$enum not a list',
      { engine: 'matcho', matcho: { 'request-method': { $enum: 'get' } } },
      'matcho.request-method.$enum',
      /non-empty list/,
    ],
    [
      '$enum of maps',
      { engine: 'matcho', matcho: { 'request-method': { $enum: [{ a: 1 }] } } },
      'matcho.request-method.$enum[0]',
      /strings, numbers or booleans/,
    ],
    [
      '$one-of beside keys',
      { engine: 'matcho', matcho: { params: { 'resource/type': 'Patient', '$one-of': [{ a: 1 }] } } },
      'matcho.params.$one-of',
      /cannot be combined/,
    ],
    [
      '$one-of empty',
      { engine: 'matcho', matcho: { a: { '$one-of': [] } } },
      'matcho.a.$one-of',
      /non-empty list of patterns/,
    ],
    [
      '$length negative',
      { engine: 'matcho', matcho: { a: { $length: -1 } } },
      'matcho.a.$length',
      /non-negative integer/,
    ],
    [
      'nested error in $not',
      { engine: 'matcho', matcho: { a: { $not: { b: '#[' } } } },
      'matcho.a.$not.b',
      /invalid regular expression/,
    ],
    [
      'error in a list item',
      { engine: 'matcho', matcho: { a: [1, { $bad: 1 }] } },
      'matcho.a[1].$bad',
      /unknown matcho operator/,
    ],
    ['matcho not a map', { engine: 'matcho', matcho: 'get' }, 'matcho', /must be a map/],
    ['matcho missing', { engine: 'matcho' }, 'matcho', /needs a matcho pattern/],
    [
      'invalid schema type',
      { engine: 'json-schema', schema: { properties: { x: { type: 'strin' } } } },
      'schema.properties.x.type',
      /must be equal to one of the allowed values/,
    ],
    ['schema not an object', { engine: 'json-schema', schema: 'x' }, 'schema', /JSON Schema object/],
    [
      'schema format',
      { engine: 'json-schema', schema: { properties: { x: { format: 'email' } } } },
      'schema.properties.x.format',
      /format is not supported/,
    ],
    [
      'schema __proto__ key',
      { engine: 'json-schema', schema: JSON.parse('{"properties":{"__proto__":{"type":"string"}}}') },
      'schema.properties.__proto__',
      /__proto__ is not allowed/,
    ],
    [
      'schema __proto__ keyword',
      { engine: 'json-schema', schema: JSON.parse('{"type":"object","__proto__":{"required":["x"]}}') },
      'schema.__proto__',
      /__proto__ is not allowed/,
    ],
    [
      'schema regex unsafe',
      { engine: 'json-schema', schema: { properties: { uri: { pattern: '(a)\\1' } } } },
      'schema',
      /linear time/,
    ],
    ['schema missing', { engine: 'json-schema' }, 'schema', /needs a schema/],
    [
      'and with or',
      { engine: 'complex', and: [{ engine: 'allow' }], or: [{ engine: 'allow' }] },
      'or',
      /cannot be on one level/,
    ],
    ['complex empty', { engine: 'complex', and: [] }, 'and', /list of 1 to 256 rules/],
    [
      'nested rule error',
      { engine: 'complex', and: [{ engine: 'allow' }, { engine: 'matcho', matcho: { x: { $nope: 1 } } }] },
      'and[1].matcho.x.$nope',
      /unknown matcho operator/,
    ],
    [
      'nested rule without engine',
      { engine: 'complex', or: [{ engine: 'allow' }, { description: 'x' }] },
      'and[1].engine'.replace('and', 'or'),
      /engine is required/,
    ],
    [
      'nested unknown field',
      { engine: 'complex', or: [{ engine: 'allow', link: [] }] },
      'or[0].link',
      /unknown rule field/,
    ],
    [
      'deeply nested and+or',
      {
        engine: 'complex',
        and: [{ engine: 'complex', and: [{ engine: 'allow' }], or: [{ engine: 'allow' }] }],
      },
      'and[0].or',
      /cannot be on one level/,
    ],
    [
      'allow with a matcho',
      { engine: 'allow', matcho: { uri: '/x' } },
      'matcho',
      /engine allow does not use matcho/,
    ],
    ['no engine, nothing to infer', {}, 'engine', /engine is required/],
    ['no engine, two members', { schema: {}, matcho: {} }, 'engine', /both json-schema and matcho/],
    ['empty link', { engine: 'allow', link: [] }, 'link', /at least one/],
    [
      'link to another type',
      {
        engine: 'allow',
        link: [
          { resourceType: 'User', id: 'u' },
          { resourceType: 'Group', id: 'g' },
        ],
      },
      'link[1]',
      /User, Client or Operation/,
    ],
    ['link without a type', { engine: 'allow', link: [{ id: 'u' }] }, 'link[0]', /User, Client or Operation/],
    ['roleName empty', { engine: 'allow', roleName: '' }, 'roleName', /non-empty/],
  ];

  it.each(invalid)('%s → ERR_POLICY_INVALID at %s', (_what, body, path, message) => {
    const { code, issues } = issuesOf(body);
    expect(code).toBe('ERR_POLICY_INVALID');
    const issue = issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    expect(issue?.message).toMatch(message);
  });

  const unsupported = ['sql', 'signed-rpc', 'matcho-rpc', 'allow-rpc', 'smart-on-fhir', 'clj', 'opa'];
  it.each(unsupported)('refuses engine %s with ERR_POLICY_ENGINE_UNSUPPORTED naming it', (engine) => {
    const { code, issues } = issuesOf({ engine, sql: { query: 'select true' } });
    expect(code).toBe('ERR_POLICY_ENGINE_UNSUPPORTED');
    expect(issues[0]?.path).toBe('engine');
    expect(issues[0]?.message).toContain(`engine "${engine}" is not supported`);
  });

  it('refuses an unsupported engine nested in complex at its path', () => {
    const { code, issues } = issuesOf({
      engine: 'complex',
      and: [{ engine: 'allow' }, { engine: 'sql', sql: {} }],
    });
    expect(code).toBe('ERR_POLICY_ENGINE_UNSUPPORTED');
    expect(issues).toEqual([{ path: 'and[1].engine', message: expect.stringContaining('"sql"') }]);
  });

  it('reports every issue at once, in the error message too', () => {
    const err = (() => {
      try {
        compilePolicy(policy({ engine: 'matcho', matcho: { a: { $x: 1 }, b: '#(' }, roleName: '' }));
      } catch (e) {
        return e as PolicyConfigError;
      }
    })();
    expect(err?.issues.map((i) => i.path).sort()).toEqual(['matcho.a.$x', 'matcho.b', 'roleName']);
    expect(err?.message).toContain('matcho.a.$x: unknown matcho operator $x');
  });
});

describe('compilePolicy', () => {
  it.each([
    [{ schema: { required: ['jwt'] } }, 'json-schema'],
    [{ matcho: { token: { active: true } } }, 'matcho'],
    [{ and: [{ engine: 'allow' }] }, 'complex'],
    [{ or: [{ engine: 'allow' }] }, 'complex'],
  ])('infers the engine of a legacy policy without one: %j → %s', (body, engine) => {
    expect(compilePolicy(policy(body)).engine).toBe(engine);
  });

  it('parses links in both reference shapes', () => {
    const compiled = compilePolicy(
      policy({
        engine: 'allow',
        link: [
          { resourceType: 'User', id: 'u1' },
          { reference: 'Client/c1' },
          { reference: 'Operation/op1' },
          { id: 'u2', resourceType: 'User' },
        ],
      }),
    );
    expect(compiled.links).toEqual({ users: ['u1', 'u2'], clients: ['c1'], operations: ['op1'] });
  });

  it('keeps roleName and id', () => {
    const compiled = compilePolicy(policy({ engine: 'allow', roleName: 'admin' }));
    expect(compiled).toMatchObject({ id: 'p', engine: 'allow', roleName: 'admin' });
    expect(compiled.links).toBeUndefined();
  });

  it('evaluates false, never throws, when evaluation fails internally', () => {
    const compiled = compilePolicy(
      policy({ engine: 'matcho', matcho: { headers: { 'user-agent': { $not: '#bot' } } } }),
    );
    const huge = `${'x'.repeat(20_000)}bot`;
    // Too long to run the regex on: the rule fails closed rather than letting $not turn "no match" into an allow.
    expect(compiled.evaluate({ headers: { 'user-agent': huge } })).toBe(false);
    expect(compiled.explain({ headers: { 'user-agent': huge } })).toMatchObject({
      result: false,
      detail: expect.stringMatching(/failed closed/),
    });
  });
});

describe('complex explain', () => {
  it('lists the nested rules evaluated, stopping where and short-circuits', () => {
    const compiled = compilePolicy(
      policy({
        engine: 'complex',
        and: [
          { engine: 'allow' },
          { engine: 'matcho', matcho: { 'request-method': 'post' } },
          { engine: 'json-schema', schema: { required: ['never-checked'] } },
        ],
      }),
    );
    const entry = compiled.explain({ 'request-method': 'get' });
    expect(entry).toMatchObject({
      policy: 'p',
      engine: 'complex',
      result: false,
      detail: 'p.and[1] is false',
    });
    expect(entry.children).toEqual([
      { policy: 'p.and[0]', engine: 'allow', result: true },
      expect.objectContaining({
        policy: 'p.and[1]',
        engine: 'matcho',
        result: false,
        path: 'request-method',
        expected: 'post',
        actual: 'get',
      }),
    ]);
  });

  it('nests complex inside complex', () => {
    const compiled = compilePolicy(
      policy({
        engine: 'complex',
        or: [
          { engine: 'complex', and: [{ engine: 'matcho', matcho: { uri: '/a' } }] },
          { engine: 'json-schema', schema: { required: ['user'] } },
        ],
      }),
    );
    const entry = compiled.explain({ uri: '/b' });
    expect(entry.result).toBe(false);
    expect(entry.detail).toBe('no rule of or is true');
    expect(entry.children?.[0]?.children?.[0]).toMatchObject({
      policy: 'p.or[0].and[0]',
      path: 'uri',
      expected: '/a',
      actual: '/b',
    });
    expect(entry.children?.[1]).toMatchObject({
      policy: 'p.or[1]',
      engine: 'json-schema',
      result: false,
      errors: [expect.objectContaining({ keyword: 'required', params: { missingProperty: 'user' } })],
    });
  });
});
