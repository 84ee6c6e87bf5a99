import type { ResourceType } from '@authz/protocol';
import { hashSecret, isHashedSecret } from '@authz/verifier';
import { invalidResource } from './http/errors.js';

// The scrypt format lives in @authz/verifier: workers verify Basic clients with it (DESIGN §12).
export { hashSecret, isHashedSecret, verifySecret } from '@authz/verifier';

/** Fields that hold a secret nobody needs to read back: stored only as a scrypt hash. */
export const HASHED_FIELDS: Partial<Record<ResourceType, string>> = { User: 'password', Client: 'secret' };

/**
 * Replaces a plain `User.password` / `Client.secret` with its hash before storage. A value that
 * is already a hash is kept, so GET → edit → PUT round-trips without re-hashing.
 */
export async function protectSecrets(type: ResourceType, resource: Record<string, unknown>): Promise<void> {
  const field = HASHED_FIELDS[type];
  if (field === undefined) return;
  const value = resource[field];
  if (value === undefined) return;
  if (typeof value !== 'string' || value === '') {
    throw invalidResource([
      { code: 'value', diagnostics: 'must be a non-empty string', expression: `${type}.${field}` },
    ]);
  }
  if (!isHashedSecret(value)) resource[field] = await hashSecret(value);
}
