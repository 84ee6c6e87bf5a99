import { boundedFetch } from '../http/fetch.js';
import type { VerificationKey } from '../keys/signature.js';
import { type ImportedKeySet, importJwksDocument } from './document.js';
import { KeySourceError } from './failure.js';

/** A key set in memory: its keys, indexed by `kid`, and when it left the origin (ms). */
export interface KeySet {
  readonly keys: readonly VerificationKey[];
  readonly byKid: ReadonlyMap<string, readonly VerificationKey[]>;
  readonly fetchedAt: number;
}

/** Indexes `keys` by `kid` (keys without one are only found by kid-less tokens). */
export function indexKeySet(keys: readonly VerificationKey[], fetchedAt: number): KeySet {
  const byKid = new Map<string, VerificationKey[]>();
  for (const key of keys) {
    if (key.kid === undefined) continue;
    const list = byKid.get(key.kid);
    if (list) list.push(key);
    else byKid.set(key.kid, [key]);
  }
  return { keys, byKid, fetchedAt };
}

/**
 * GETs a JWKS document from its origin — bounded in time and size, no redirects (`boundedFetch`)
 * — and imports it. Rejects with a {@link KeySourceError} whose message is fit for a reason:
 * `unreachable`, `http-status` (anything but 200), `unusable-document` (no usable signing key).
 */
export async function fetchJwks(
  uri: string,
  location: string,
  options: { timeoutMs: number; maxBytes: number },
): Promise<ImportedKeySet> {
  const response = await boundedFetch(uri, options).catch((err: unknown) => {
    throw KeySourceError.from(err);
  });
  if (response.status !== 200)
    throw new KeySourceError('http-status', `${location} answered HTTP ${response.status}`);
  const imported = await importJwksDocument(response.body).catch((err: unknown) => {
    throw new KeySourceError('unusable-document', (err as Error).message, { cause: err });
  });
  if (imported.keys.length === 0)
    throw new KeySourceError('unusable-document', 'the JWKS document holds no usable signing key');
  return imported;
}
