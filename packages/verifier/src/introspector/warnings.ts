import type { TokenIntrospector } from '@authz/protocol';

/** HMAC key length below which a key is shorter than its hash output (RFC 7518 §3.2), bytes. */
const HMAC_MIN_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };

/**
 * Risks of storing `resource` beside `others` (the other stored TokenIntrospectors) that are
 * accepted but worth saying (DESIGN §11; the config service puts them in `X-Authz-Warning`):
 * several opaque introspectors without `introspection_endpoint.token_prefix` (each receives every
 * opaque token, so one IdP's tokens reach another), and an HMAC secret shorter than its hash
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
  if (resource.type === 'opaque' && resource.introspection_endpoint?.token_prefix === undefined) {
    const unprefixed = others
      .filter(
        (o) =>
          o.id !== resource.id && o.type === 'opaque' && o.introspection_endpoint?.token_prefix === undefined,
      )
      .map((o) => `TokenIntrospector/${o.id}`);
    if (unprefixed.length > 0) {
      const named =
        unprefixed.length > 5
          ? `${unprefixed.slice(0, 5).join(', ')} and ${unprefixed.length - 5} more`
          : unprefixed.join(', ');
      warnings.push(
        `TokenIntrospector/${resource.id} and ${named} have no introspection_endpoint.token_prefix: every opaque token without a matching prefix is sent to each of them, so one identity provider's tokens reach the others and the lowest id answering active decides; give each a token_prefix`,
      );
    }
  }
  return warnings;
}
