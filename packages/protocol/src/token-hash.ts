import type * as NodeCrypto from 'node:crypto';

/**
 * The one way a token is named in caches, Redis keys and revocation events: a SHA-256 of the
 * whole token, base64url. Never the token, never its signature alone. Node only.
 */
export function hashToken(token: string): string {
  sha256 ??= loadSha256();
  return sha256(token);
}

let sha256: ((input: string) => string) | undefined;

// `node:crypto` is loaded on first use, not imported at the top: the console imports this package
// in the browser, where there is no `node:crypto` (and no token to hash).
// process.getBuiltinModule needs Node ≥ 20.16, which also has crypto.hash (≥ 20.12): the one-shot
// form, half the cost of a Hash object per token.
function loadSha256(): (input: string) => string {
  const crypto = process.getBuiltinModule('node:crypto') as typeof NodeCrypto;
  return (input) => crypto.hash('sha256', input, 'base64url');
}
