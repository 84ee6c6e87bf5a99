import { BlockList, isIP } from 'node:net';

/** `GATEWAY_TRUSTED_PROXIES` when unset (DESIGN §10): only the local host. */
export const DEFAULT_TRUSTED_PROXIES = '127.0.0.1/32,::1/128';

/** Headers only a trusted proxy may set; from anyone else they are neither believed nor forwarded. */
export const FORWARDED_HEADERS: ReadonlySet<string> = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
]);

/**
 * The proxies whose forwarding headers are believed (DESIGN §10, `GATEWAY_TRUSTED_PROXIES`).
 *
 * @example
 * const trusted = TrustedProxies.parse('10.0.0.0/8,127.0.0.1/32');
 * trusted.clientAddress('10.0.0.2', ['203.0.113.9, 198.51.100.1, 10.0.0.7']) // '198.51.100.1'
 */
export class TrustedProxies {
  /** Addresses asked before and their answer (bounded: cleared when full). */
  private readonly answers = new Map<string, boolean>();

  private constructor(
    private readonly list: BlockList,
    /** The CIDRs as given, for logs. */
    readonly cidrs: readonly string[],
  ) {}

  /** Parses comma-separated CIDRs (a bare address is a /32 or /128); throws naming a bad entry. */
  static parse(setting: string): TrustedProxies {
    const list = new BlockList();
    const cidrs: string[] = [];
    for (const entry of setting.split(',')) {
      const cidr = entry.trim();
      if (cidr === '') continue;
      const [address = '', bits, extra] = cidr.split('/');
      const family = isIP(address);
      const max = family === 6 ? 128 : 32;
      const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
      if (family === 0 || extra !== undefined || prefix < 0 || prefix > max) {
        throw new Error(`"${cidr}" is not an IPv4 or IPv6 CIDR (like 10.0.0.0/8 or ::1/128)`);
      }
      list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
      cidrs.push(cidr);
    }
    return new TrustedProxies(list, cidrs);
  }

  /** True when `address` (IPv4, IPv6 or IPv4-mapped IPv6) is in a trusted CIDR. */
  trusts(address: string | undefined): boolean {
    if (address === undefined) return false;
    // BlockList.check builds a SocketAddress (a transferable host object, ~3 µs) per call; the
    // list never changes, and a gateway sees few peers, so each address is asked once.
    const known = this.answers.get(address);
    if (known !== undefined) return known;
    const plain = unmapped(address);
    const family = isIP(plain);
    const trusted = family !== 0 && this.list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
    if (this.answers.size >= MAX_REMEMBERED) this.answers.clear();
    this.answers.set(address, trusted);
    return trusted;
  }

  /**
   * The client's address: the peer itself unless it is trusted; then the rightmost
   * `X-Forwarded-For` hop that is not trusted (hops right of it were added by trusted proxies,
   * hops left of it by the client, who can write anything there).
   */
  clientAddress(peer: string, forwardedFor: readonly string[] | undefined): string {
    const address = unmapped(peer);
    if (!this.trusts(address) || forwardedFor === undefined) return address;
    const hops = forwardedFor.join(',').split(',');
    let client = address;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = (hops[i] as string).trim();
      if (hop === '') continue;
      client = unmapped(hop);
      if (!this.trusts(client)) return client;
    }
    return client;
  }
}

/** Most addresses remembered; a gateway facing many clients directly starts over when full. */
const MAX_REMEMBERED = 4096;

/** `::ffff:192.0.2.1` (an IPv4 peer on a dual-stack socket) → `192.0.2.1`. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
