import { hashToken } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { cachedResult, decodeShared, encodeShared, introspectionCacheKey, ResultMemo } from './cache.js';
import { compileOpaqueIntrospector } from './config.js';

const NOW = 1_767_225_600_000;
const NEG_MS = 10_000;
const idp = compileOpaqueIntrospector(
  { id: 'idp', url: 'https://idp.example.com/introspect', cacheTtlSeconds: 300 },
  [],
);

describe('introspectionCacheKey', () => {
  const token = 'opaque-token-value';
  const key = introspectionCacheKey('idp', hashToken(token));

  it('is stable and names neither the token nor its hash', () => {
    expect(key).toBe(introspectionCacheKey('idp', hashToken(token)));
    expect(key).toMatch(/^introspection:[A-Za-z0-9_-]{43}$/);
    expect(key).not.toContain(token);
    expect(key).not.toContain(hashToken(token));
  });

  it('differs per introspector and per token', () => {
    expect(introspectionCacheKey('idp-2', hashToken(token))).not.toBe(key);
    expect(introspectionCacheKey('idp', hashToken(`${token}x`))).not.toBe(key);
  });
});

describe('cachedResult lifetimes', () => {
  const active = (exp?: number) => ({ kind: 'active' as const, claims: { active: true, exp }, exp });

  it.each([
    ['active without exp lives cache_ttl', active(), NOW + 300_000],
    ['active with a far exp lives cache_ttl', active(NOW / 1000 + 3600), NOW + 300_000],
    ['active with a near exp lives until exp', active(NOW / 1000 + 5), NOW + 5_000],
    ['inactive lives the negative TTL', { kind: 'inactive' as const }, NOW + NEG_MS],
  ])('%s', (_name, answer, expiresAt) => {
    expect(cachedResult(idp, answer, NOW, NEG_MS).expiresAt).toBe(expiresAt);
  });

  it('never keeps an inactive answer longer than cache_ttl', () => {
    const short = compileOpaqueIntrospector({ id: 'idp', url: idp.url, cacheTtlSeconds: 2 }, []);
    expect(cachedResult(short, { kind: 'inactive' }, NOW, NEG_MS).expiresAt).toBe(NOW + 2_000);
  });

  it('builds a frozen opaque identity', () => {
    const { identity } = cachedResult(idp, active(NOW / 1000 + 60), NOW, NEG_MS);
    expect(identity).toEqual({
      kind: 'opaque',
      introspector: 'idp',
      claims: { active: true, exp: NOW / 1000 + 60 },
      exp: NOW / 1000 + 60,
    });
    expect(Object.isFrozen(identity)).toBe(true);
  });
});

describe('shared-cache values', () => {
  const answer = { kind: 'active' as const, claims: { active: true, sub: 'u1' }, exp: undefined };

  it('round-trips an active and an inactive answer', () => {
    expect(decodeShared(encodeShared(idp, answer, NOW), idp, NOW + 1000, NEG_MS)).toEqual(
      cachedResult(idp, answer, NOW, NEG_MS),
    );
    expect(
      decodeShared(encodeShared(idp, { kind: 'inactive' }, NOW), idp, NOW + 1000, NEG_MS)?.identity,
    ).toBeUndefined();
  });

  it('ignores a value written for another endpoint URL under the same id', () => {
    const moved = compileOpaqueIntrospector(
      { id: 'idp', url: 'https://other.example.com/introspect', cacheTtlSeconds: 300 },
      [],
    );
    expect(decodeShared(encodeShared(idp, answer, NOW), moved, NOW, NEG_MS)).toBeUndefined();
  });

  it('applies a shortened cache_ttl to values already shared', () => {
    const shorter = compileOpaqueIntrospector({ id: 'idp', url: idp.url, cacheTtlSeconds: 5 }, []);
    const value = encodeShared(idp, answer, NOW);
    expect(decodeShared(value, shorter, NOW + 4_000, NEG_MS)).toBeDefined();
    expect(decodeShared(value, shorter, NOW + 5_000, NEG_MS)).toBeUndefined();
  });

  it.each([
    ['absent', undefined],
    ['not JSON', '{'],
    ['JSON null', 'null'],
    ['no time', JSON.stringify({ f: idp.fingerprint, active: false })],
    ['active without claims', JSON.stringify({ f: idp.fingerprint, at: NOW, active: true })],
    ['a string exp', JSON.stringify({ f: idp.fingerprint, at: NOW, active: true, claims: { exp: 'x' } })],
    ['expired', JSON.stringify({ f: idp.fingerprint, at: NOW - 300_000, active: true, claims: {} })],
    ['from the far future', JSON.stringify({ f: idp.fingerprint, at: NOW + 120_000, active: false })],
  ])('reads a value that is %s as a miss', (_name, raw) => {
    expect(decodeShared(raw, idp, NOW, NEG_MS)).toBeUndefined();
  });
});

describe('ResultMemo', () => {
  const result = (expiresAt = NOW + 1000) => ({ record: idp, identity: undefined, expiresAt });

  it('evicts the least recently used entry beyond its bound', () => {
    const memo = new ResultMemo(2);
    memo.set('a', result());
    memo.set('b', result());
    memo.get(idp, 'a', NOW); // a is now the most recent
    memo.set('c', result());
    expect(memo.size).toBe(2);
    expect(memo.get(idp, 'b', NOW)).toBeUndefined();
    expect(memo.get(idp, 'a', NOW)).toBeDefined();
    expect(memo.get(idp, 'c', NOW)).toBeDefined();
  });

  it('drops expired entries and entries of a replaced record', () => {
    const memo = new ResultMemo(10);
    memo.set('a', result(NOW + 1));
    expect(memo.get(idp, 'a', NOW + 1)).toBeUndefined();
    memo.set('b', result());
    const replaced = compileOpaqueIntrospector({ id: 'idp', url: idp.url, cacheTtlSeconds: 300 }, []);
    expect(memo.get(replaced, 'b', NOW)).toBeUndefined();
    expect(memo.size).toBe(0);
  });
});
