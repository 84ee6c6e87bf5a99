import { describe, expect, it } from 'vitest';
import { compileOpaqueIntrospector, type OpaqueIntrospectorConfig } from './config.js';
import { OPAQUE_SHAPE, routeToken, type TokenShape, unroutedTokenError } from './routing.js';

const record = (id: string, extra: Partial<OpaqueIntrospectorConfig> = {}) =>
  compileOpaqueIntrospector(
    { id, url: `https://${id}.example/introspect`, cacheTtlSeconds: 60, ...extra },
    [],
  );

const a = record('a', { tokenPrefix: 'a-' });
const ab = record('ab', { tokenPrefix: 'ab-' });
const b = record('b', { tokenPrefix: 'b-' });
const plain = record('plain');
const plain2 = record('plain2');
const keycloak = record('keycloak', { jwtIssuers: ['https://kc.example'] });
const eyj = record('eyj', { tokenPrefix: 'eyJ' });
const jwtOf = (iss: unknown): TokenShape => ({ kind: 'jwt', iss });

describe('routeToken (DESIGN §11: tokens go only where they belong)', () => {
  it.each<[string, string, TokenShape, string[]]>([
    ['a prefixed token goes only to its prefix', 'a-123', OPAQUE_SHAPE, ['a']],
    ['the longest matching prefix wins', 'ab-123', OPAQUE_SHAPE, ['ab']],
    [
      'a token of no prefix goes to the unprefixed ones',
      'zz-123',
      OPAQUE_SHAPE,
      ['keycloak', 'plain', 'plain2'],
    ],
    ['a JWT of an untrusted issuer goes nowhere by default', 'eyJx.y.z', jwtOf('https://typo.example'), []],
    ['a JWT without iss goes nowhere by default', 'eyJx.y.z', jwtOf(undefined), []],
    ['a JWT goes where jwt_issuers lists its iss', 'eyJx.y.z', jwtOf('https://kc.example'), ['keycloak']],
  ])('%s', (_name, token, shape, ids) => {
    const records = [a, ab, b, keycloak, plain, plain2];
    expect(routeToken(records, token, shape).map((r) => r.id)).toEqual(ids);
  });

  it('sends a JWT to an introspector whose token_prefix it starts with', () => {
    expect(routeToken([eyj, plain], 'eyJx.y.z', jwtOf('https://typo.example')).map((r) => r.id)).toEqual([
      'eyj',
    ]);
  });

  it('sends an unprefixed token nowhere when every introspector has a prefix', () => {
    expect(routeToken([a, b], 'c-1', OPAQUE_SHAPE)).toEqual([]);
  });
});

describe('unroutedTokenError', () => {
  it.each<[string, TokenShape, boolean, string, RegExp]>([
    [
      'an untrusted issuer',
      jwtOf('https://typo.example'),
      true,
      'ERR_TOKEN_ISSUER_UNTRUSTED',
      /"https:\/\/typo\.example"/,
    ],
    ['a JWT without iss', jwtOf(undefined), true, 'ERR_JWT_CLAIM_MISSING', /names no issuer/],
    [
      'a JWT whose iss is a list',
      jwtOf(['https://a']),
      true,
      'ERR_JWT_CLAIM_INVALID',
      /iss claim is not a string/,
    ],
    ['an opaque token of no prefix', OPAQUE_SHAPE, true, 'ERR_TOKEN_ISSUER_UNTRUSTED', /token_prefix/],
    ['an opaque token with no opaque introspector', OPAQUE_SHAPE, false, 'ERR_TOKEN_MALFORMED', /not a JWT/],
  ])('names %s', (_name, shape, hasOpaque, code, message) => {
    const err = unroutedTokenError(shape, hasOpaque);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });
});
