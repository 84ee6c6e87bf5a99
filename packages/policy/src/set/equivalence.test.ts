import type { AccessPolicy } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { buildRequestContext, type RequestContext } from '../context/build.js';
import { type CompiledPolicy, compilePolicy } from '../policy.js';
import { PolicySet, type Subject } from './policy-set.js';

// Randomized equivalence: the candidate index must never change the decision of a linear scan in
// id order, whether the set was built in one pass or reached by any sequence of updates.

const compile = (id: string, body: Record<string, unknown>) =>
  compilePolicy({ resourceType: 'AccessPolicy', id, ...body } as AccessPolicy);
const subject = (s: Partial<Subject> = {}): Subject => ({ roles: new Set(), ...s });

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
    const ctx = buildRequestContext({ method: pick(METHODS), uri: pick(URIS) });
    // A route parameter the URI itself does not carry (only the path may set it on the wire).
    if (chance(0.2)) ctx.params = { ...(ctx.params as object), 'resource/type': pick(TYPES) };
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

// Fixed, CPU-bound work (seeded generators): a few seconds on an idle 2-core machine, several
// times that while the whole suite shares the CPUs. The bound is on the work, not the clock.
const CPU_BOUND_MS = 120_000;

describe('candidate index equivalence', () => {
  it(
    'decides exactly as a linear scan in id order, over random policy sets and requests',
    () => {
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
    },
    CPU_BOUND_MS,
  );

  it(
    'decides exactly as a fresh linear scan after every step of random upserts and deletes',
    () => {
      const gen = generator(rng(20250611));
      let allowed = 0;
      let denied = 0;
      let changes = 0;
      for (let round = 0; round < 40; round++) {
        // Current policies by id: the truth the linear scan reads.
        const held = new Map<string, CompiledPolicy>();
        const newId = () => `p${String(Math.floor(gen.random() * 10_000)).padStart(4, '0')}`;
        for (let i = Math.floor(gen.random() * 30); i > 0; i--) {
          const id = newId();
          held.set(id, gen.policy(id));
        }
        const set = new PolicySet([...held.values()]);
        for (let step = 0; step < 60; step++) {
          // Ids touched by this batch; it carries each one's net result, as the worker's commit does.
          const touched = new Set<string>();
          // Mostly one change (as a KV watch delivers them), sometimes a burst; the occasional huge
          // burst takes the one-pass rebuild path.
          const burst = gen.random() < 0.03 ? 70 : gen.random() < 0.2 ? 2 + Math.floor(gen.random() * 5) : 1;
          for (let k = 0; k < burst; k++) {
            const ids = [...held.keys()];
            const roll = gen.random();
            const heldId = () => ids[Math.floor(gen.random() * ids.length)] as string;
            // Deletes grow likelier with the size, so sets stay small enough for denials to be common.
            if (roll < Math.min(0.6, ids.length / 12)) {
              const id = heldId();
              held.delete(id);
              touched.add(id);
            } else if (roll > 0.95) {
              touched.add('never-held');
            } else {
              // A new id, or a replacement of a held one with another body.
              const id = roll > 0.75 && ids.length > 0 ? heldId() : newId();
              held.set(id, gen.policy(id));
              touched.add(id);
            }
          }
          const ids = [...touched];
          set.update(
            ids.filter((id) => held.has(id)).map((id) => held.get(id) as CompiledPolicy),
            ids.filter((id) => !held.has(id)),
          );
          changes += burst;
          expect(set.size).toBe(held.size);
          for (let r = 0; r < 8; r++) {
            const { ctx, who } = gen.request();
            const want = linearDecision([...held.values()], ctx, who);
            const where = JSON.stringify({ round, step, r, ctx, who: { ...who, roles: [...who.roles] } });
            expect(set.decide(ctx, who).policy, where).toBe(want);
            expect(set.decide(ctx, who, { explain: true }).policy, where).toBe(want);
            if (want) allowed++;
            else denied++;
          }
        }
      }
      expect(changes).toBeGreaterThan(3000);
      expect(allowed).toBeGreaterThan(3000);
      expect(denied).toBeGreaterThan(3000);
    },
    CPU_BOUND_MS,
  );
});
