import { describe, expect, it } from 'vitest';
import { AdminAuth, BASIC_CHALLENGE, parseBasic } from './auth.js';
import { ApiError } from './errors.js';

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

describe('AdminAuth', () => {
  const auth = new AdminAuth('admin', 'p:ss wörd');

  it.each([
    ['the right credentials', basic('admin:p:ss wörd'), true],
    ['a lower-case scheme', `basic ${Buffer.from('admin:p:ss wörd').toString('base64')}`, true],
    ['a wrong password', basic('admin:p:ss word'), false],
    ['a wrong user', basic('root:p:ss wörd'), false],
    ['a password prefix', basic('admin:p:ss'), false],
    ['no colon', basic('admin'), false],
    ['a Bearer token', 'Bearer abc', false],
    ['no header', undefined, false],
  ])('%s → %s', (_name, header, ok) => {
    expect(auth.matches(header)).toBe(ok);
  });

  it('answers 401 with a Basic challenge', async () => {
    const error = await auth.verify(undefined, '10.0.0.1').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect((error as ApiError).headers['www-authenticate']).toBe(BASIC_CHALLENGE);
  });

  it('answers 429 with Retry-After to an address that keeps failing, and only to that one', async () => {
    const throttled = new AdminAuth('admin', 'right', {
      failureDelayMs: 0,
      maxFailures: 3,
      windowMs: 60_000,
    });
    for (let i = 0; i < 3; i++) {
      const err = await throttled.verify(basic('admin:wrong'), '10.0.0.7').catch((e: ApiError) => e);
      expect(err).toMatchObject({ status: 401 });
    }
    const refused = await throttled.verify(basic('admin:right'), '10.0.0.7').catch((e: ApiError) => e);
    expect(refused).toMatchObject({ status: 429, code: 'ERR_TOO_MANY_ATTEMPTS' });
    expect((refused as ApiError).headers['retry-after']).toBe('60');
    await expect(throttled.verify(basic('admin:right'), '10.0.0.8')).resolves.toBeUndefined();
  });

  it('does not count a request without credentials as a failure', async () => {
    const throttled = new AdminAuth('admin', 'right', { failureDelayMs: 0, maxFailures: 1 });
    await throttled.verify(undefined, '10.0.0.9').catch(() => {});
    await expect(throttled.verify(basic('admin:right'), '10.0.0.9')).resolves.toBeUndefined();
  });

  it('refuses to exist without a password', () => {
    expect(() => new AdminAuth('admin', '')).toThrow('the admin password must not be empty');
  });
});

describe('parseBasic', () => {
  it('splits at the first colon only (RFC 7617 §2)', () => {
    expect(parseBasic(basic('u:a:b'))).toEqual({ user: 'u', password: 'a:b' });
  });
});
