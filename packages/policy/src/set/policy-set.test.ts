import type { AccessPolicy } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { buildRequestContext } from '../context/build.js';
import { type CompiledPolicy, compilePolicy } from '../policy.js';
import { MAX_EXPLAIN_ENTRIES, PolicySet, type Subject } from './policy-set.js';

const compile = (id: string, body: Record<string, unknown>) =>
  compilePolicy({ resourceType: 'AccessPolicy', id, ...body } as AccessPolicy);
const subject = (s: Partial<Subject> = {}): Subject => ({ roles: new Set(), ...s });
const get = (uri: string) => buildRequestContext({ method: 'GET', uri });

describe('PolicySet.decide', () => {
  it('allows with the first policy in id order, whatever the input order', () => {
    const set = new PolicySet([
      compile('c', { engine: 'allow' }),
      compile('a', { engine: 'allow' }),
      compile('b', { engine: 'allow' }),
    ]);
    expect(set.size).toBe(3);
    expect(set.decide(get('/'), subject())).toEqual({ policy: 'a' });
  });

  it('denies (no policy) when nothing evaluates true', () => {
    const set = new PolicySet([compile('a', { engine: 'matcho', matcho: { 'request-method': 'post' } })]);
    expect(set.decide(get('/'), subject())).toEqual({});
  });

  const linked = [
    compile('to-user', { engine: 'allow', link: [{ resourceType: 'User', id: 'u1' }] }),
    compile('to-client', { engine: 'allow', link: [{ reference: 'Client/c1' }] }),
    compile('to-operation', { engine: 'allow', link: [{ resourceType: 'Operation', id: 'op1' }] }),
    compile('to-admins', { engine: 'allow', roleName: 'admin' }),
    compile('to-u2-admins', {
      engine: 'allow',
      roleName: 'admin',
      link: [{ resourceType: 'User', id: 'u2' }],
    }),
  ];
  it.each<[string, Subject, string | undefined]>([
    ['the linked user', subject({ user: 'u1' }), 'to-user'],
    ['the linked client', subject({ client: 'c1' }), 'to-client'],
    ['the linked operation', subject({ operation: 'op1' }), 'to-operation'],
    ['a holder of the role', subject({ user: 'u9', roles: new Set(['admin']) }), 'to-admins'],
    [
      'a linked user holding the role (first in id order wins)',
      subject({ user: 'u2', roles: new Set(['admin']) }),
      'to-admins',
    ],
    ['another user', subject({ user: 'u9', client: 'c9' }), undefined],
    ['a linked user without the role', subject({ user: 'u2' }), undefined],
    ['an anonymous request', subject(), undefined],
  ])('applies link and roleName: %s → %s', (_what, who, policy) => {
    expect(new PolicySet(linked).decide(get('/'), who).policy).toBe(policy);
  });

  it('explains each candidate evaluated, in order, up to the one that allows', () => {
    const set = new PolicySet([
      compile('1-method', {
        engine: 'matcho',
        matcho: { 'request-method': { $enum: ['get', 'post'] }, uri: '/other' },
      }),
      compile('2-schema', { engine: 'json-schema', schema: { required: ['user'] } }),
      compile('3-allow', { engine: 'allow' }),
      compile('4-never-reached', { engine: 'allow' }),
    ]);
    const decision = set.decide(get('/x'), subject(), { explain: true });
    expect(decision.policy).toBe('3-allow');
    expect(decision.explain?.map((e) => [e.policy, e.engine, e.result])).toEqual([
      ['2-schema', 'json-schema', false],
      ['3-allow', 'allow', true],
    ]);
    // 1-method never ran: its uri is not this request's (the index knew without evaluating it).
  });

  it('caps explain entries but still decides past the cap', () => {
    const policies = Array.from({ length: MAX_EXPLAIN_ENTRIES + 10 }, (_, i) =>
      compile(`p${String(i).padStart(4, '0')}`, { engine: 'json-schema', schema: { required: ['user'] } }),
    );
    policies.push(compile('zz', { engine: 'allow' }));
    const decision = new PolicySet(policies).decide(get('/'), subject(), { explain: true });
    expect(decision.policy).toBe('zz');
    expect(decision.explain).toHaveLength(MAX_EXPLAIN_ENTRIES);
    expect(decision.explainOmitted).toBe(11);
  });

  it('evaluates only the candidates the request can satisfy', () => {
    let evaluated = 0;
    const counting = (policy: CompiledPolicy): CompiledPolicy => ({
      ...policy,
      evaluate: (ctx) => {
        evaluated++;
        return policy.evaluate(ctx);
      },
    });
    const policies = [];
    // 300 of each shape: compiling json-schema is the slow part of this test, not deciding.
    for (let i = 0; i < 300; i++) {
      policies.push(
        counting(
          compile(`m${i}`, { engine: 'matcho', matcho: { uri: `#^/fhir/T${i}/`, 'request-method': 'post' } }),
        ),
      );
      policies.push(
        counting(
          compile(`s${i}`, {
            engine: 'json-schema',
            schema: {
              required: ['params', 'jwt'],
              properties: {
                params: { required: ['resource/type'], properties: { 'resource/type': { const: `T${i}` } } },
              },
            },
          }),
        ),
      );
      policies.push(
        counting(compile(`z${i}`, { engine: 'allow', link: [{ resourceType: 'User', id: `user-${i}` }] })),
      );
    }
    const set = new PolicySet(policies);
    expect(set.decide(get('/fhir/T5/1'), subject({ user: 'user-7' })).policy).toBe('z7');
    // m5 and s5 (the policies about T5) and z7 (linked to the user): nothing else of the 900 ran.
    expect(evaluated).toBe(3);
  });
});

describe('PolicySet.update', () => {
  const allowUri = (id: string, uri: string) => compile(id, { engine: 'matcho', matcho: { uri } });

  it.each<[string, CompiledPolicy[], string[], Record<string, string | undefined>]>([
    ['adds a policy that comes first in id order', [allowUri('a', '/x')], [], { '/x': 'a', '/y': 'c' }],
    ['replaces a held policy by id', [allowUri('b', '/y')], [], { '/x': undefined, '/y': 'b' }],
    ['removes a policy', [], ['b'], { '/x': undefined, '/y': 'c' }],
    ['ignores deletes of ids it does not hold', [], ['zz'], { '/x': 'b', '/y': 'c' }],
    [
      'upserts an id that is also deleted in the same call',
      [allowUri('b', '/y')],
      ['b'],
      { '/x': undefined, '/y': 'b' },
    ],
    [
      'keeps the last of two upserts of one id',
      [allowUri('d', '/x'), allowUri('d', '/y')],
      [],
      { '/x': 'b', '/y': 'c' },
    ],
  ])('%s', (_what, upserts, deletes, decisions) => {
    const set = new PolicySet([allowUri('b', '/x'), allowUri('c', '/y')]);
    set.update(upserts, deletes);
    for (const [uri, policy] of Object.entries(decisions))
      expect(set.decide(get(uri), subject()).policy, uri).toBe(policy);
  });

  it('keeps the last of two policies with one id when built', () => {
    const set = new PolicySet([allowUri('a', '/x'), allowUri('a', '/y')]);
    expect(set.size).toBe(1);
    expect(set.decide(get('/y'), subject()).policy).toBe('a');
    expect(set.decide(get('/x'), subject()).policy).toBeUndefined();
  });

  it('keeps id order through many inserts between the same two neighbours', () => {
    // Each id sorts just before 'b' and after every earlier one: 100 halvings of one gap of order keys.
    const set = new PolicySet([allowUri('a', '/a'), allowUri('b', '/shared')]);
    let id = 'a';
    for (let i = 0; i < 100; i++) {
      id += 'z';
      set.update([allowUri(id, i % 2 === 0 ? '/shared' : '/odd')]);
    }
    expect(set.size).toBe(102);
    expect(set.decide(get('/shared'), subject()).policy).toBe('az');
    set.update([], ['az']);
    expect(set.decide(get('/shared'), subject()).policy).toBe('azzz');
    expect(set.decide(get('/odd'), subject()).policy).toBe('azz');
  });

  it('files policies loaded one at a time as selectively as a one-pass build', () => {
    let evaluated = 0;
    const counting = (policy: CompiledPolicy): CompiledPolicy => ({
      ...policy,
      evaluate: (ctx) => {
        evaluated++;
        return policy.evaluate(ctx);
      },
    });
    // First 50 policies pin GET and one of 50 resource types of their own: while few policies pin
    // GET, the method bucket is the cheaper one. Then 500 policies pin GET and a URI each, which
    // makes the method bucket the worst place for the first 50: the index must move them.
    const types = (i: number) => Array.from({ length: 50 }, (_, k) => `T${i}x${k}`);
    const policies = [
      ...Array.from({ length: 50 }, (_, i) =>
        compile(`a${String(i).padStart(3, '0')}`, {
          engine: 'matcho',
          matcho: { 'request-method': 'get', params: { 'resource/type': { $enum: types(i) } } },
        }),
      ),
      ...Array.from({ length: 500 }, (_, i) =>
        compile(`u${String(i).padStart(3, '0')}`, {
          engine: 'matcho',
          matcho: { 'request-method': 'get', uri: `/u${i}` },
        }),
      ),
    ].map(counting);
    const loaded = new PolicySet([]);
    for (const policy of policies) loaded.update([policy]);
    for (const [name, set] of [
      ['built in one pass', new PolicySet(policies)],
      ['loaded one at a time', loaded],
    ] as const) {
      for (const [uri, policy, evaluations] of [
        ['/fhir/T7x3/1', 'a007', 1],
        ['/u123', 'u123', 1],
        ['/fhir/Other/1', undefined, 0],
      ] as const) {
        evaluated = 0;
        expect(set.decide(get(uri), subject()).policy, `${name}: ${uri}`).toBe(policy);
        expect(evaluated, `${name}: ${uri}`).toBe(evaluations);
      }
    }
  });
});
