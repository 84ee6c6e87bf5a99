import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost (RFC 7914): N=2^15, r=8, p=1 — OWASP's interactive-login floor, ~50 ms. */
const COST = { N: 32768, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const HASHED = /^\$scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

function derive(secret: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r };
  return new Promise((resolve, reject) =>
    scrypt(secret.normalize('NFC'), salt, KEY_BYTES, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/**
 * Hashes a secret with scrypt and a random salt into a self-describing string:
 * `$scrypt$<N>$<r>$<p>$<salt base64url>$<hash base64url>`. How `User.password` and
 * `Client.secret` are stored (DESIGN §11, §12).
 */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(secret, salt, COST);
  return `$scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Whether `value` is already a hash made by {@link hashSecret} (so it is stored as is). */
export function isHashedSecret(value: string): boolean {
  return HASHED.test(value);
}

/** Checks `secret` against a {@link hashSecret} string in constant time. */
export async function verifySecret(secret: string, hashed: string): Promise<boolean> {
  const m = HASHED.exec(hashed);
  if (!m) return false;
  const [, n, r, p, salt, hash] = m as unknown as [string, string, string, string, string, string];
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  // Refuse costs nobody here produced: a planted hash must not make verification a DoS.
  if (cost.N > 2 ** 17 || cost.r > 16 || cost.p > 4) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await derive(secret, Buffer.from(salt, 'base64url'), cost);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

let decoy: Promise<string> | undefined;

/** A hash of a random secret (made once), to spend the same time on an unknown client as on a known one. */
export function decoyHash(): Promise<string> {
  decoy ??= hashSecret(randomBytes(16).toString('base64url'));
  return decoy;
}
