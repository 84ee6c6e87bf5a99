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

  it('answers 401 with a Basic challenge', () => {
    let error: unknown;
    try {
      auth.verify(undefined);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect((error as ApiError).headers['www-authenticate']).toBe(BASIC_CHALLENGE);
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
