import type { TokenIntrospector } from '@authz/protocol';
import { describe, expect, it } from 'vitest';
import { introspectorWarnings } from './warnings.js';

const opaque = (id: string, tokenPrefix?: string): TokenIntrospector => ({
  resourceType: 'TokenIntrospector',
  id,
  type: 'opaque',
  introspection_endpoint: {
    url: `https://${id}.example/introspect`,
    ...(tokenPrefix === undefined ? {} : { token_prefix: tokenPrefix }),
  },
});
const hmac = (secret: string): TokenIntrospector => ({
  resourceType: 'TokenIntrospector',
  id: 'hs',
  type: 'jwt',
  jwt: { iss: 'https://idp.example', secret },
});

describe('introspectorWarnings (DESIGN §11 X-Authz-Warning)', () => {
  it.each<[string, TokenIntrospector, TokenIntrospector[], RegExp[]]>([
    ['one opaque introspector alone', opaque('a'), [], []],
    [
      'a second one without a prefix',
      opaque('b'),
      [opaque('a')],
      [/^TokenIntrospector\/b and TokenIntrospector\/a have no introspection_endpoint\.token_prefix/],
    ],
    ['itself, stored before (a replace)', opaque('a'), [opaque('a')], []],
    ['different prefixes', opaque('b', 'b-'), [opaque('a', 'a-')], []],
    ['a prefixed one beside an unprefixed one', opaque('b', 'b-'), [opaque('a')], []],
    [
      'the same prefix twice',
      opaque('b', 'x-'),
      [opaque('a', 'x-')],
      [/^TokenIntrospector\/b and TokenIntrospector\/a share introspection_endpoint\.token_prefix "x-"/],
    ],
    [
      'the seed very-secret',
      hmac('very-secret'),
      [],
      [/^jwt\.secret is 11 bytes, shorter than the 32-byte output of HS256/],
    ],
    ['a 32-byte secret', hmac('x'.repeat(32)), [], []],
  ])('%s', (_name, resource, others, expected) => {
    const warnings = introspectorWarnings(resource, others);
    expect(warnings).toHaveLength(expected.length);
    for (const [i, pattern] of expected.entries()) expect(warnings[i]).toMatch(pattern);
  });

  it('names at most five others', () => {
    const others = Array.from({ length: 8 }, (_, i) => opaque(`o${i}`));
    expect(introspectorWarnings(opaque('new'), others)[0]).toContain('TokenIntrospector/o4 and 3 more');
  });

  it('is ASCII only, as a header value must be', () => {
    const all = [
      ...introspectorWarnings(hmac('short'), []),
      ...introspectorWarnings(opaque('b'), [opaque('a')]),
    ];
    for (const w of all) expect(w).toMatch(/^[\x20-\x7e]+$/);
  });
});
