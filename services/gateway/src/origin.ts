/**
 * What an entry point knows about the URL a client addressed (DESIGN §13): the scheme and
 * authority of the connection the client made, and — only when a trusted proxy sent them —
 * `X-Forwarded-Proto` / `X-Forwarded-Host`.
 */
export interface AddressedFacts {
  /** `https` on a TLS socket, else `http`; Envoy's `attributes.request.http.scheme` */
  scheme: string | undefined;
  /** the `Host` header; Envoy's `attributes.request.http.host` */
  host: string | undefined;
  /** `X-Forwarded-Proto`, passed only when the peer is a trusted proxy (DESIGN §10) */
  forwardedProto?: string;
  /** `X-Forwarded-Host`, passed only when the peer is a trusted proxy (DESIGN §10) */
  forwardedHost?: string;
}

const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The origin (`scheme://host[:port]`) the client addressed, the one way every gateway entry
 * (proxy, forward-auth, Envoy HTTP and gRPC ext_authz) builds it: `GATEWAY_PUBLIC_URL` when set,
 * else trusted forwarded headers over the connection's own scheme and host. `undefined` when the
 * facts are missing or malformed — a list (`a, b`) or junk is never guessed at, so a DPoP proof's
 * `htu` is then refused rather than compared with a made-up URL.
 *
 * @example
 * clientOrigin(undefined, { scheme: 'http', host: 'gw:8080', forwardedProto: 'https', forwardedHost: 'api.example.com' })
 * // 'https://api.example.com'
 */
export function clientOrigin(publicOrigin: string | undefined, facts: AddressedFacts): string | undefined {
  if (publicOrigin !== undefined) return publicOrigin;
  const scheme = (facts.forwardedProto ?? facts.scheme)?.trim().toLowerCase();
  const host = facts.forwardedHost ?? facts.host;
  if (host === undefined || !HOST.test(host) || (scheme !== 'http' && scheme !== 'https')) return undefined;
  return `${scheme}://${host}`;
}

/**
 * The `htu` of a request (RFC 9449 §4.2: without query and fragment) from its origin and target,
 * for the gateway's own assertion. An unknown origin is `http://localhost`, never a guess from
 * untrusted headers.
 */
export function requestHtu(origin: string | undefined, uri: string): string {
  const q = uri.search(/[?#]/);
  return `${origin ?? 'http://localhost'}${q < 0 ? uri : uri.slice(0, q)}`;
}
