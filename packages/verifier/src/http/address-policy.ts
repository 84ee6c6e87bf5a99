import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses no key set, discovery document or introspection endpoint may live at (DESIGN §11
 * "fetch safety"): link-local — where cloud metadata services answer (169.254.169.254) —,
 * unspecified and multicast. Loopback and private ranges stay allowed: IdPs live there.
 */
const FORBIDDEN: ReadonlyArray<{ net: string; prefix: number; type: 'ipv4' | 'ipv6'; what: string }> = [
  { net: '169.254.0.0', prefix: 16, type: 'ipv4', what: 'link-local' },
  { net: 'fe80::', prefix: 10, type: 'ipv6', what: 'link-local' },
  { net: '0.0.0.0', prefix: 8, type: 'ipv4', what: 'unspecified' },
  { net: '::', prefix: 128, type: 'ipv6', what: 'unspecified' },
  { net: '224.0.0.0', prefix: 4, type: 'ipv4', what: 'multicast' },
  { net: '255.255.255.255', prefix: 32, type: 'ipv4', what: 'broadcast' },
  { net: 'ff00::', prefix: 8, type: 'ipv6', what: 'multicast' },
];

const lists = FORBIDDEN.map((range) => {
  const list = new BlockList();
  list.addSubnet(range.net, range.prefix, range.type);
  return { list, type: range.type, what: range.what };
});

/**
 * Why an IP address may not be fetched from (`"link-local"`, `"unspecified"`, `"multicast"`,
 * `"broadcast"`), or `undefined` when it may. IPv4-mapped IPv6 (`::ffff:169.254.169.254`) is
 * judged as the IPv4 address it maps.
 */
export function forbiddenAddress(address: string): string | undefined {
  const ip = unmapped(address.replace(/^\[|\]$/g, ''));
  const family = isIP(ip);
  if (family === 0) return undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const range of lists) {
    if (range.type === type && range.list.check(ip, type)) return range.what;
  }
  return undefined;
}

/** The IPv4 address an IPv4-mapped IPv6 address stands for (dotted or hex form), else `ip`. */
function unmapped(ip: string): string {
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (dotted) return dotted[1] as string;
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (!hex) return ip;
  const high = Number.parseInt(hex[1] as string, 16);
  const low = Number.parseInt(hex[2] as string, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** Why a URL's host, when it is an IP literal, may not be fetched from; `undefined` otherwise. */
export function forbiddenHost(url: URL): string | undefined {
  const what = forbiddenAddress(url.hostname);
  return (
    what &&
    `points at a ${what} address (${url.hostname}); key sets and introspection endpoints may not live there`
  );
}

/** Thrown (as a lookup error) when a host name resolves to a forbidden address. */
export class ForbiddenAddressError extends Error {
  readonly code = 'ERR_ADDRESS_FORBIDDEN';
  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly what: string,
  ) {
    super(`${hostname} resolves to a ${what} address (${address}); fetching from it is refused`);
    this.name = 'ForbiddenAddressError';
  }
}

/** How host names are resolved: `dns.lookup` with `all: true`, or a test's stand-in. */
export type ResolveAll = (
  hostname: string,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const resolveWithDns: ResolveAll = (hostname, callback) =>
  dnsLookup(hostname, { all: true }, (err, addresses) => callback(err, addresses ?? []));

/**
 * A `lookup` for `http.request` (see {@link boundedFetch}) that refuses a host resolving to any
 * forbidden address, so the address checked is the address connected to (no DNS-rebinding
 * window between check and use). `resolve` is the resolver behind it (default `dns.lookup`).
 */
export function guardedLookupWith(resolve: ResolveAll): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, (err, found) => {
      if (err) return callback(err, '', 0);
      const family = (options as { family?: number | string }).family;
      const addresses =
        family === 4 || family === 'IPv4'
          ? found.filter((a) => a.family === 4)
          : family === 6 || family === 'IPv6'
            ? found.filter((a) => a.family === 6)
            : found;
      for (const { address } of found) {
        const what = forbiddenAddress(address);
        if (what) return callback(new ForbiddenAddressError(hostname, address, what), '', 0);
      }
      if ((options as { all?: boolean }).all)
        return (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/** {@link guardedLookupWith} over `dns.lookup`. */
export const guardedLookup: LookupFunction = guardedLookupWith(resolveWithDns);

/** How long a PUT-time resolution may take. */
const RESOLVE_TIMEOUT_MS = 1000;

/**
 * Resolves a URL's host and says why it may not be fetched from, or `undefined`. A name that does
 * not resolve (from here, now) is not a refusal: the fetch-time check still applies.
 */
export async function checkResolvedHost(
  raw: string,
  resolve: ResolveAll = resolveWithDns,
): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined; // the syntax check names this
  }
  const literal = forbiddenHost(url);
  if (literal || isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0) return literal;
  const addresses = await new Promise<LookupAddress[]>((done) => {
    // Bounded: a resolver that does not answer in time is "does not resolve from here".
    const timer = setTimeout(() => done([]), RESOLVE_TIMEOUT_MS);
    resolve(url.hostname, (err, found) => {
      clearTimeout(timer);
      done(err ? [] : found);
    });
  });
  for (const { address } of addresses) {
    const what = forbiddenAddress(address);
    if (what)
      return `resolves to a ${what} address (${url.hostname} → ${address}); key sets and introspection endpoints may not live there`;
  }
  return undefined;
}
