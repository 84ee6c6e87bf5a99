import { createPublicKey, X509Certificate } from 'node:crypto';

/**
 * Why an HMAC secret must be refused because it is really a public key or certificate, or
 * `undefined` when it is an ordinary secret. HMAC keyed with a public key is algorithm confusion
 * by configuration (RFC 8725 §2.1, §3.1; DESIGN §11): anyone holding the public key could sign.
 * Recognised: any PEM block, a JWK (JSON with `kty`), and base64 DER that parses as a public key
 * or an X.509 certificate.
 */
export function secretLooksLikeKey(secret: string): string | undefined {
  const text = secret.trim();
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(text)) {
    return 'is a PEM block (a key or certificate), not a shared secret: HMAC keyed with a public key lets anyone holding it sign tokens; configure public keys in jwt.keys or jwks_uri';
  }
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed !== null && typeof parsed === 'object' && 'kty' in parsed) {
        return 'is a JWK, not a shared secret: configure keys in jwt.keys (format JWK) or jwks_uri';
      }
    } catch {
      // not JSON: an ordinary secret
    }
  }
  if (text.length >= 64 && /^[A-Za-z0-9+/=\s]+$/.test(text)) {
    const der = Buffer.from(text.replace(/\s+/g, ''), 'base64');
    if (parsesAsDer(der)) {
      return 'is a base64 DER public key or certificate, not a shared secret: configure it in jwt.keys (format PEM)';
    }
  }
  return undefined;
}

function parsesAsDer(der: Buffer): boolean {
  // DER SEQUENCE tag: cheap pre-check before asking OpenSSL.
  if (der[0] !== 0x30) return false;
  try {
    createPublicKey({ key: der, format: 'der', type: 'spki' });
    return true;
  } catch {}
  try {
    createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
    return true;
  } catch {}
  try {
    new X509Certificate(der);
    return true;
  } catch {
    return false;
  }
}
