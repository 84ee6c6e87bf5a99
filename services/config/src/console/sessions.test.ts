import { describe, expect, it } from 'vitest';
import { SessionStore } from './sessions.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('SessionStore', () => {
  it('hands out 43-character random ids that find their session', () => {
    const store = new SessionStore();
    const a = store.create('admin');
    const b = store.create('admin');
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
    expect(store.get(a.id)?.user).toBe('admin');
  });

  it.each([
    ['an unknown id', 'x'.repeat(43)],
    ['a malformed id', 'not an id'],
    ['no id', undefined],
  ])('finds nothing for %s', (_name, id) => {
    expect(new SessionStore().get(id)).toBeUndefined();
  });

  it('ends a session left idle longer than idleMs, and keeps one in use', () => {
    const time = clock();
    const store = new SessionStore({ idleMs: 1000, absoluteMs: 10_000 }, time.now);
    const used = store.create('admin').id;
    const idle = store.create('admin').id;
    time.advance(900);
    expect(store.get(used)).toBeDefined();
    time.advance(900);
    expect(store.get(used)).toBeDefined();
    expect(store.get(idle)).toBeUndefined();
  });

  it('ends a busy session at its absolute lifetime', () => {
    const time = clock();
    const store = new SessionStore({ idleMs: 1000, absoluteMs: 2500 }, time.now);
    const { id } = store.create('admin');
    for (let i = 0; i < 4; i++) {
      time.advance(600);
      expect(store.get(id)).toBeDefined();
    }
    time.advance(600);
    expect(store.get(id)).toBeUndefined();
  });

  it('ends a revoked session', () => {
    const store = new SessionStore();
    const { id } = store.create('admin');
    expect(store.revoke(id)).toBe(true);
    expect(store.get(id)).toBeUndefined();
    expect(store.revoke(id)).toBe(false);
  });

  it('drops the oldest session past maxSessions', () => {
    const store = new SessionStore({ maxSessions: 2 });
    const first = store.create('admin').id;
    const second = store.create('admin').id;
    const third = store.create('admin').id;
    expect(store.get(first)).toBeUndefined();
    expect(store.get(second)).toBeDefined();
    expect(store.get(third)).toBeDefined();
    expect(store.size).toBe(2);
  });

  it('closes what is attached when the session is revoked or expires, not what was detached', () => {
    const time = clock();
    const store = new SessionStore({ idleMs: 1000 }, time.now);
    const closed: string[] = [];
    const a = store.create('admin').id;
    const b = store.create('admin').id;
    store.attach(a, () => closed.push('a-stream'));
    const detach = store.attach(a, () => closed.push('a-finished'));
    store.attach(b, () => closed.push('b-stream'));
    detach();
    store.revoke(a);
    expect(closed).toEqual(['a-stream']);
    time.advance(1500);
    store.sweep();
    expect(closed).toEqual(['a-stream', 'b-stream']);
  });
});
