import { describe, expect, it } from 'vitest';
import { ApiError } from './http/errors.js';
import { hashSecret, isHashedSecret, protectSecrets, verifySecret } from './secrets.js';

describe('secrets at rest', () => {
  it('hashes with a fresh salt each time and verifies only the right secret', async () => {
    const a = await hashSecret('hunter2');
    const b = await hashSecret('hunter2');
    expect(a).not.toBe(b);
    expect(isHashedSecret(a)).toBe(true);
    expect(await verifySecret('hunter2', a)).toBe(true);
    expect(await verifySecret('hunter3', a)).toBe(false);
    expect(await verifySecret('hunter2', 'hunter2')).toBe(false);
  });

  it('refuses to verify against a planted hash with an abusive cost', async () => {
    const planted = (await hashSecret('x')).replace('$32768$', '$1048576$');
    expect(await verifySecret('x', planted)).toBe(false);
  });

  it.each([
    ['User', 'password'],
    ['Client', 'secret'],
  ] as const)('replaces %s.%s with its hash and keeps an existing hash', async (type, field) => {
    const resource: Record<string, unknown> = { resourceType: type, id: 'x', [field]: 'plain' };
    await protectSecrets(type, resource);
    const hashed = resource[field] as string;
    expect(isHashedSecret(hashed)).toBe(true);
    await protectSecrets(type, resource);
    expect(resource[field]).toBe(hashed);
  });

  it('refuses a secret that is not a non-empty string', async () => {
    const err = await protectSecrets('User', { password: 42 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).issues).toEqual([
      { code: 'value', diagnostics: 'must be a non-empty string', expression: 'User.password' },
    ]);
  });

  it('leaves other types alone', async () => {
    const resource = { jwt: { secret: 'very-secret' } };
    await protectSecrets('TokenIntrospector', resource);
    expect(resource).toEqual({ jwt: { secret: 'very-secret' } });
  });
});
