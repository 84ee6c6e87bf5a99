import type { AccessPolicy } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { buildRequestContext, type RequestContext } from '../context/build.js';
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
    for (let i = 0; i < 1000; i++) {
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
    // m5 and s5 (the policies about T5) and z7 (linked to the user): nothing else of the 3000 ran.
    expect(evaluated).toBe(3);
  });
});

// ---- Randomized equivalence: the index must never change the decision of a linear scan. ----

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = ['get', 'post', 'put', 'delete', 'GET'];
const TYPES = ['Patient', 'Encounter', 'Observation'];
const URIS = [
  '/fhir/Patient',
  '/fhir/Patient/1',
  '/fhir/Encounter/2',
  '/Patient/1',
  '/fhir/Observation',
  '/admin',
  '/fhir/Patient/1/_history/2',
  '/',
];
const SUBS = ['s1', 's2', 's3'];
const PREFIXES = ['/fhir/', '/fhir/Patient', '/fhir/Pat', '/Patient', '/adm', '/', '/fhir/Patient/1'];

function generator(random: () => number) {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const chance = (p: number) => random() < p;
  const some = <T>(list: readonly T[]) => [...new Set([pick(list), pick(list)])];
  const method = () =>
    pick<unknown>([
      pick(METHODS),
      { $enum: some(METHODS) },
      '#^ge',
      { '$one-of': some(METHODS) },
      { $not: pick(METHODS) },
      'present?',
    ]);
  const uri = () =>
    pick<unknown>([
      pick(URIS),
      `#^${pick(PREFIXES)}`,
      `#^${pick(URIS)}$`,
      `#${pick(PREFIXES)}`,
      { '$one-of': [`#^${pick(PREFIXES)}`, pick(URIS)] },
      { $enum: some(URIS) },
      `#^${pick(PREFIXES)}|^/admin`,
    ]);
  const type = () => pick<unknown>([pick(TYPES), { $enum: some(TYPES) }, 'present?', { $not: pick(TYPES) }]);
  const matcho = () => {
    const m: Record<string, unknown> = {};
    if (chance(0.5)) m['request-method'] = method();
    if (chance(0.4)) m.uri = uri();
    if (chance(0.3))
      m.params = chance(0.8)
        ? { 'resource/type': type() }
        : { '$one-of': [{ 'resource/type': pick(TYPES) }, { 'resource/type': pick(TYPES) }] };
    if (chance(0.1)) m.user = { id: 'u1' };
    if (chance(0.2))
      m.jwt = chance(0.7)
        ? { sub: pick(SUBS) }
        : { '$one-of': [{ sub: pick(SUBS) }, { sub: pick(SUBS), iss: 'i' }] };
    if (Object.keys(m).length === 0) m['request-method'] = method();
    return { engine: 'matcho', matcho: m };
  };
  const pinned = (values: readonly string[]) =>
    chance(0.5) ? { const: pick(values) } : { enum: some(values) };
  const schema = () => {
    const properties: Record<string, unknown> = {};
    const required: string[] = [];
    const need = (k: string) => chance(0.7) && required.push(k);
    if (chance(0.6)) {
      properties['request-method'] = pinned(METHODS);
      need('request-method');
    }
    if (chance(0.5)) {
      properties.uri = chance(0.5) ? pinned(URIS) : { pattern: `^${pick(PREFIXES)}` };
      need('uri');
    }
    if (chance(0.4)) {
      properties.params = {
        required: chance(0.7) ? ['resource/type'] : [],
        properties: { 'resource/type': pinned(TYPES) },
      };
      need('params');
    }
    if (chance(0.2)) {
      properties.jwt = { required: chance(0.8) ? ['sub'] : [], properties: { sub: pinned(SUBS) } };
      need('jwt');
    }
    if (required.length === 0) required.push('uri');
    return { engine: 'json-schema', schema: { required, properties } };
  };
  const leafRule = (): Record<string, unknown> =>
    chance(0.05) ? { engine: 'allow' } : chance(0.6) ? matcho() : schema();
  const rule = (depth = 0): Record<string, unknown> => {
    if (depth < 2 && chance(0.2)) {
      return {
        engine: 'complex',
        [chance(0.5) ? 'and' : 'or']: Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
          rule(depth + 1),
        ),
      };
    }
    return leafRule();
  };
  const policy = (id: string): CompiledPolicy => {
    const body: Record<string, unknown> = rule();
    if (chance(0.2))
      body.link = some([
        { resourceType: 'User', id: 'u1' },
        { resourceType: 'User', id: 'u2' },
        { reference: 'Client/c1' },
        { reference: 'Operation/o1' },
      ]);
    if (chance(0.15)) body.roleName = pick(['admin', 'viewer']);
    return compile(id, body);
  };
  const request = (): { ctx: RequestContext; who: Subject } => {
    const query = chance(0.2) ? `?resource/type=${pick(TYPES)}` : '';
    const ctx = buildRequestContext({ method: pick(METHODS), uri: pick(URIS) + query });
    const who = subject({
      user: chance(0.5) ? pick(['u1', 'u2', 'u3']) : undefined,
      client: chance(0.3) ? 'c1' : undefined,
      operation: chance(0.2) ? 'o1' : undefined,
      roles: new Set(chance(0.3) ? [pick(['admin', 'viewer'])] : []),
    });
    if (who.user) ctx.user = { id: who.user };
    // Claims of every shape, including ones a schema's `properties` cannot look into.
    if (chance(0.6))
      ctx.jwt = pick<unknown>([
        { sub: pick(SUBS) },
        { sub: pick(SUBS), iss: 'i' },
        'a-string',
        ['s1'],
        { sub: 1 },
        {},
      ]);
    if (chance(0.05)) ctx.params = pick<unknown>(['Patient', ['Patient'], { 'resource/type': ['Patient'] }]);
    return { ctx, who };
  };
  return { policy, request, random };
}

function linearDecision(
  policies: readonly CompiledPolicy[],
  ctx: RequestContext,
  who: Subject,
): string | undefined {
  const sorted = [...policies].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const p of sorted) {
    const { links } = p;
    if (links) {
      const named =
        (who.user && links.users.includes(who.user)) ||
        (who.client && links.clients.includes(who.client)) ||
        (who.operation && links.operations.includes(who.operation));
      if (!named) continue;
    }
    if (p.roleName !== undefined && !who.roles.has(p.roleName)) continue;
    if (p.evaluate(ctx)) return p.id;
  }
  return undefined;
}

describe('candidate index equivalence', () => {
  it('decides exactly as a linear scan in id order, over random policy sets and requests', () => {
    const gen = generator(rng(20240607));
    let allowed = 0;
    let denied = 0;
    for (let round = 0; round < 150; round++) {
      const count = 1 + Math.floor(gen.random() * 20);
      const policies = Array.from({ length: count }, (_, i) =>
        gen.policy(`p${Math.floor(gen.random() * 1000)}-${i}`),
      );
      const set = new PolicySet(policies);
      for (let r = 0; r < 40; r++) {
        const { ctx, who } = gen.request();
        const want = linearDecision(policies, ctx, who);
        const got = set.decide(ctx, who);
        expect(got.policy, JSON.stringify({ round, r, ctx, who: { ...who, roles: [...who.roles] } })).toBe(
          want,
        );
        const explained = set.decide(ctx, who, { explain: true });
        expect(explained.policy).toBe(want);
        if (want) allowed++;
        else denied++;
      }
    }
    // Both outcomes must be common, or the comparison proves little.
    expect(allowed).toBeGreaterThan(1000);
    expect(denied).toBeGreaterThan(500);
  });
});
