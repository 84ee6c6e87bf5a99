import { describe, expect, it } from 'vitest';
import { type AddressedFacts, clientOrigin, requestHtu } from './origin.js';

describe('clientOrigin: the one origin every gateway entry puts in a check', () => {
  it.each<[string, string | undefined, AddressedFacts, string | undefined]>([
    ['the connection itself', undefined, { scheme: 'http', host: 'gw:8080' }, 'http://gw:8080'],
    [
      'trusted forwarded headers over the connection',
      undefined,
      { scheme: 'http', host: 'gw:8080', forwardedProto: 'HTTPS', forwardedHost: 'api.example.com' },
      'https://api.example.com',
    ],
    [
      'GATEWAY_PUBLIC_URL over everything',
      'https://public.example.com',
      { scheme: 'http', host: 'gw', forwardedProto: 'http', forwardedHost: 'evil.example' },
      'https://public.example.com',
    ],
    ['an IPv6 literal', undefined, { scheme: 'https', host: '[::1]:8443' }, 'https://[::1]:8443'],
    ['no host', undefined, { scheme: 'http', host: undefined }, undefined],
    ['a list of hosts', undefined, { scheme: 'http', host: 'a, b' }, undefined],
    ['a host with a path', undefined, { scheme: 'http', host: 'a/b' }, undefined],
    ['userinfo in the host', undefined, { scheme: 'http', host: 'u@a' }, undefined],
    ['an unknown scheme', undefined, { scheme: 'ftp', host: 'a' }, undefined],
    [
      'a forwarded list of schemes',
      undefined,
      { scheme: 'http', host: 'a', forwardedProto: 'https, http' },
      undefined,
    ],
  ])('%s', (_name, publicOrigin, facts, expected) => {
    expect(clientOrigin(publicOrigin, facts)).toBe(expected);
  });

  it('htu drops query and fragment, and never guesses an unknown origin', () => {
    expect(requestHtu('https://a.example', '/fhir/Patient?x=1#f')).toBe('https://a.example/fhir/Patient');
    expect(requestHtu(undefined, '/p')).toBe('http://localhost/p');
  });
});
