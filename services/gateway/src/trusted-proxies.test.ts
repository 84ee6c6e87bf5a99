import { describe, expect, it } from 'vitest';
import { TrustedProxies } from './trusted-proxies.js';

describe('TrustedProxies', () => {
  const trusted = TrustedProxies.parse('127.0.0.1/32,::1/128,10.0.0.0/8');
  it('takes the rightmost untrusted X-Forwarded-For hop behind a trusted peer', () => {
    expect(trusted.clientAddress('10.0.0.2', ['6.6.6.6, 203.0.113.9, 10.1.1.1'])).toBe('203.0.113.9');
    expect(trusted.clientAddress('::ffff:127.0.0.1', ['203.0.113.9'])).toBe('203.0.113.9');
  });
  it('ignores X-Forwarded-For from an untrusted peer', () => {
    expect(trusted.clientAddress('198.51.100.7', ['127.0.0.1'])).toBe('198.51.100.7');
  });
  it.each(['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '1.2.3.4/x'])('refuses the setting %s', (cidr) => {
    expect(() => TrustedProxies.parse(cidr)).toThrow(cidr);
  });
});
