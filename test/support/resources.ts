/**
 * PUT paths and bodies of the smallest deciding configuration: TokenIntrospector `hs` (HS256 by
 * shared secret, issuer `iss`) and AccessPolicy `readers`, which allows GETs by any token with a
 * `sub` (further matcho keys, e.g. `uri`, narrow it).
 */
export function hsReaders(
  iss: string,
  secret: string,
  matcho: Record<string, unknown> = {},
): Array<[string, Record<string, unknown>]> {
  return [
    ['/TokenIntrospector/hs', { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss, secret } }],
    [
      '/AccessPolicy/readers',
      {
        resourceType: 'AccessPolicy',
        engine: 'matcho',
        matcho: { 'request-method': 'get', ...matcho, jwt: { sub: 'present?' } },
      },
    ],
  ];
}
