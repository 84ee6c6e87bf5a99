import { buildRequestContext } from '@authz/policy';
import { createLogger } from '@authz/runtime';
import { describe, expect, it } from 'vitest';
import { ConfigState } from './config-state.js';

const logger = createLogger('worker-test', 'silent');
const anyone = { roles: new Set<string>() };

/** A policy allowing GET on one URI. */
const allowGet = (id: string, uri: string) => ({
  resourceType: 'AccessPolicy',
  id,
  engine: 'matcho',
  matcho: { 'request-method': 'get', uri },
});

function stateWith(policies: Array<Record<string, unknown>>): ConfigState {
  const state = new ConfigState(logger, () => {});
  let revision = 0;
  for (const policy of policies)
    state.apply({ key: `AccessPolicy.${policy.id}`, revision: ++revision, value: policy });
  state.commit();
  return state;
}

const decide = (state: ConfigState, uri: string) =>
  state.policySet.decide(buildRequestContext({ method: 'GET', uri }), anyone).policy;

describe('ConfigState policies', () => {
  it('builds the snapshot at the first commit and decides with it', () => {
    const state = stateWith([allowGet('b', '/x'), allowGet('a', '/x'), allowGet('c', '/y')]);
    expect(state.policySet.size).toBe(3);
    expect(state.counts.AccessPolicy).toBe(3);
    expect(decide(state, '/x')).toBe('a');
    expect(decide(state, '/y')).toBe('c');
    expect(state.revision).toBe(3);
  });

  it('applies puts, replacements and deletes at the next commit, not before', () => {
    const state = stateWith([allowGet('b', '/x'), allowGet('c', '/y')]);
    state.apply({ key: 'AccessPolicy.a', revision: 10, value: allowGet('a', '/x') });
    state.apply({ key: 'AccessPolicy.c', revision: 11, value: allowGet('c', '/z') });
    state.apply({ key: 'AccessPolicy.b', revision: 12 });
    expect(decide(state, '/x')).toBe('b');
    state.commit();
    expect(decide(state, '/x')).toBe('a');
    expect(decide(state, '/y')).toBeUndefined();
    expect(decide(state, '/z')).toBe('c');
    expect(state.policySet.size).toBe(2);
    expect(state.revision).toBe(12);
  });

  it('keeps only the last change of a policy within one batch', () => {
    const state = stateWith([allowGet('a', '/x')]);
    state.apply({ key: 'AccessPolicy.a', revision: 5 });
    state.apply({ key: 'AccessPolicy.a', revision: 6, value: allowGet('a', '/y') });
    state.apply({ key: 'AccessPolicy.n', revision: 7, value: allowGet('n', '/x') });
    state.apply({ key: 'AccessPolicy.n', revision: 8 });
    state.commit();
    expect(decide(state, '/x')).toBeUndefined();
    expect(decide(state, '/y')).toBe('a');
    expect(state.policySet.size).toBe(1);
  });

  it('drops a stored policy that no longer compiles, failing closed', () => {
    const state = stateWith([allowGet('a', '/x'), allowGet('b', '/x')]);
    state.apply({
      key: 'AccessPolicy.a',
      revision: 9,
      value: { resourceType: 'AccessPolicy', engine: 'sql' },
    });
    state.commit();
    expect(decide(state, '/x')).toBe('b');
    expect(state.policySet.size).toBe(1);
  });

  it('decides by the latest version of every policy after many single-change commits', () => {
    const state = stateWith([]);
    // The model: the URI each policy id allows now (absent: deleted).
    const model = new Map<string, string>();
    for (let i = 0; i < 300; i++) {
      const id = `p${String((i * 37) % 97).padStart(3, '0')}`;
      const uri = `/r${i % 7}`;
      if (i % 5 === 4) model.delete(id);
      else model.set(id, uri);
      state.apply({
        key: `AccessPolicy.${id}`,
        revision: i + 1,
        value: i % 5 === 4 ? undefined : allowGet(id, uri),
      });
      state.commit();
    }
    expect(state.policySet.size).toBe(model.size);
    for (let r = 0; r < 7; r++) {
      const first = [...model.keys()].sort().find((id) => model.get(id) === `/r${r}`);
      expect(first).toBeDefined();
      expect(decide(state, `/r${r}`)).toBe(first);
    }
  });
});
