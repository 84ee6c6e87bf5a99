import type { TokenIntrospector } from '@authz/protocol';

/** HMAC key length below which a key is shorter than its hash output (RFC 7518 §3.2), bytes. */
const HMAC_MIN_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };

/**
 * Risks of storing `resource` beside `others` (the other stored TokenIntrospectors) that are
 * accepted but worth saying (DESIGN §11; the config service puts them in `X-Authz-Warning`):
 * several opaque introspectors without `introspection_endpoint.token_prefix`, or with the same one
 * (each receives the same tokens, so one IdP's tokens reach another), and an HMAC secret shorter than its hash
 * output (RFC 7518 §3.2: such a key is guessable sooner than the algorithm promises).
 *
 * @example
 * introspectorWarnings({ resourceType: 'TokenIntrospector', id: 'seed', type: 'jwt',
 *   jwt: { iss: 'https://auth.example.com', secret: 'very-secret' } }, [])
 * // ['jwt.secret is 11 bytes, shorter than the 32-byte output of HS256 …']
 */
export function introspectorWarnings(
  resource: TokenIntrospector,
  others: readonly TokenIntrospector[],
): string[] {
  const warnings: string[] = [];
  const secret = resource.jwt?.secret;
  if (resource.type === 'jwt' && secret !== undefined) {
    const bytes = Buffer.byteLength(secret, 'utf8');
    if (bytes < 32) {
      warnings.push(
        `jwt.secret is ${bytes} bytes, shorter than the 32-byte output of HS256 (RFC 7518 section 3.2): a short secret can be guessed offline from one token; use at least 32 random bytes`,
      );
    }
  }
  resource.jwt?.keys?.forEach((key, index) => {
    const min = HMAC_MIN_BYTES[key.alg];
    const material = key.k ?? key.pub;
    if (min === undefined || key.format !== 'plain' || material === undefined) return;
    const bytes = Buffer.byteLength(material, 'utf8');
    if (bytes < min) {
      warnings.push(
        `jwt.keys[${index}] is ${bytes} bytes, shorter than the ${min}-byte output of ${key.alg} (RFC 7518 section 3.2); use at least ${min} random bytes`,
      );
    }
  });
  if (resource.type === 'opaque') {
    const shared = sharedRouteWarning(resource, others);
    if (shared) warnings.push(shared);
  }
  return warnings;
}

/**
 * Other opaque introspectors that receive the same tokens as `resource` (DESIGN §11 routing: the
 * same `token_prefix`, or both without one), named in a warning; `undefined` when there are none.
 */
function sharedRouteWarning(
  resource: TokenIntrospector,
  others: readonly TokenIntrospector[],
): string | undefined {
  const prefix = resource.introspection_endpoint?.token_prefix;
  const peers = others
    .filter(
      (o) => o.id !== resource.id && o.type === 'opaque' && o.introspection_endpoint?.token_prefix === prefix,
    )
    .map((o) => `TokenIntrospector/${o.id}`);
  if (peers.length === 0) return undefined;
  const named =
    peers.length > 5 ? `${peers.slice(0, 5).join(', ')} and ${peers.length - 5} more` : peers.join(', ');
  const who = `TokenIntrospector/${resource.id} and ${named}`;
  const risk =
    "so one identity provider's tokens reach the others and the lowest id answering active decides";
  return prefix === undefined
    ? `${who} have no introspection_endpoint.token_prefix: every opaque token without a matching prefix is sent to each of them, ${risk}; give each a token_prefix`
    : `${who} share introspection_endpoint.token_prefix ${JSON.stringify(prefix)}: every token starting with it is sent to each of them, ${risk}; give each its own prefix`;
}
