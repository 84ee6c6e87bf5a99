import { EnvError } from '@authz/runtime';
import { describe, expect, it } from 'vitest';
import { readConfigEnv } from './env.js';

describe('readConfigEnv', () => {
  it('applies the DESIGN §4 defaults', () => {
    expect(readConfigEnv({ CONFIG_ADMIN_PASSWORD: 'p' })).toMatchObject({
      port: 8081,
      host: '127.0.0.1',
      adminUser: 'admin',
      adminPassword: 'p',
      kvReplicas: 1,
      checkTimeoutMs: 2000,
      storeRetryMs: 15_000,
      subjectPrefix: 'authz',
      audit: true,
    });
  });

  it('turns the audit trail off only when told exactly', () => {
    expect(readConfigEnv({ CONFIG_ADMIN_PASSWORD: 'p', AUTHZ_AUDIT: 'off' }).audit).toBe(false);
    expect(() => readConfigEnv({ CONFIG_ADMIN_PASSWORD: 'p', AUTHZ_AUDIT: 'no' })).toThrow(/AUTHZ_AUDIT/);
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      readConfigEnv({ CONFIG_PORT: '99999', AUTHZ_KV_REPLICAS: '7', CONFIG_ADMIN_USER: 'a:b' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvError);
    expect((error as EnvError).problems).toEqual([
      'CONFIG_PORT="99999" must be an integer from 0 to 65535',
      'CONFIG_ADMIN_PASSWORD is required: the admin API has no default password; set one',
      'AUTHZ_KV_REPLICAS="7" must be an integer from 1 to 5',
      'CONFIG_ADMIN_USER must not contain ":" (HTTP Basic, RFC 7617)',
    ]);
  });
});
