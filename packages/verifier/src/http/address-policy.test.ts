import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkResolvedHost, forbiddenAddress, guardedLookupWith, type ResolveAll } from './address-policy.js';
import { boundedFetch, checkOutboundUrl } from './fetch.js';

// DESIGN §11 fetch safety: no key set, discovery document or introspection endpoint is fetched
// from a link-local (cloud metadata), unspecified or multicast address, whether the URL names it
// or a host name resolves to it. Loopback and private ranges stay allowed.

/** A resolver of test names: offline, so the names resolve to what each test says. */
const names: Record<string, Array<{ address: string; family: number }>> = {
  'idp.test': [{ address: '127.0.0.1', family: 4 }],
  'metadata.test': [{ address: '169.254.169.254', family: 4 }],
  // One good address is not enough: any forbidden one refuses the name (rebinding by round robin).
  'mixed.test': [
    { address: '127.0.0.1', family: 4 },
    { address: '169.254.169.254', family: 4 },
  ],
  'v6-link-local.test': [{ address: 'fe80::1', family: 6 }],
};
const resolve: ResolveAll = (hostname, callback) => {
  const found = names[hostname];
  if (found) callback(null, found);
  else callback(Object.assign(new Error(`${hostname} not found`), { code: 'ENOTFOUND' }), []);
};
const lookup = guardedLookupWith(resolve);

let server: Server;
let port: number;
let requests = 0;
beforeAll(async () => {
  server = createServer((_req, res) => {
    requests += 1;
    res.end('{"keys":[]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('forbiddenAddress', () => {
  it.each([
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['[fe80::abcd]', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['127.0.0.1', undefined],
    ['::1', undefined],
    ['10.0.0.1', undefined],
    ['192.168.1.1', undefined],
    ['172.16.0.1', undefined],
    ['idp.example', undefined],
  ])('%s → %s', (address, what) => {
    expect(forbiddenAddress(address)).toBe(what);
  });
});

describe('checkOutboundUrl', () => {
  it('refuses an IP literal at a forbidden address, also over https', () => {
    expect(checkOutboundUrl('https://169.254.169.254/jwks')).toMatch(
      /link-local address \(169\.254\.169\.254\)/,
    );
  });
});

describe('checkResolvedHost (PUT time)', () => {
  it.each([
    ['http://metadata.test/jwks', /resolves to a link-local address \(metadata\.test → 169\.254\.169\.254\)/],
    ['http://mixed.test/jwks', /link-local/],
    ['http://v6-link-local.test/jwks', /link-local/],
  ])('refuses %s', async (url, message) => {
    expect(await checkResolvedHost(url, resolve)).toMatch(message);
  });

  it('accepts a name that resolves to loopback, and one that does not resolve from here', async () => {
    expect(await checkResolvedHost('http://idp.test/jwks', resolve)).toBeUndefined();
    expect(await checkResolvedHost('http://unknown.test/jwks', resolve)).toBeUndefined();
  });
});

describe('boundedFetch (fetch time)', () => {
  const get = (host: string) =>
    boundedFetch(`http://${host}:${port}/jwks`, { timeoutMs: 2000, maxBytes: 1024, lookup });

  it('fetches from a name that resolves to loopback', async () => {
    const before = requests;
    expect((await get('idp.test')).status).toBe(200);
    expect(requests).toBe(before + 1);
  });

  it.each(['metadata.test', 'mixed.test', 'v6-link-local.test'])(
    'never connects to %s, which resolves to a forbidden address',
    async (host) => {
      const before = requests;
      await expect(get(host)).rejects.toMatchObject({ code: 'ERR_ADDRESS_FORBIDDEN' });
      expect(requests).toBe(before);
    },
  );

  it('refuses an IP literal at a forbidden address without connecting', async () => {
    await expect(
      boundedFetch('http://169.254.169.254/latest/meta-data/', { timeoutMs: 2000, maxBytes: 1024 }),
    ).rejects.toMatchObject({ code: 'ERR_ADDRESS_FORBIDDEN' });
  });

  it('uses the guarded system resolver by default: localhost still works', async () => {
    const res = await boundedFetch(`http://localhost:${port}/jwks`, { timeoutMs: 2000, maxBytes: 1024 });
    expect(res.status).toBe(200);
  });
});
