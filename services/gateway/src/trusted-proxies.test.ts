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
  it('answers the same for an address asked again, and past the remembered bound', () => {
    const list = TrustedProxies.parse('10.0.0.0/8');
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5000; i++) {
        const inside = `10.${(i >> 8) & 255}.${i & 255}.1`;
        const outside = `11.${(i >> 8) & 255}.${i & 255}.1`;
        expect(list.trusts(inside), inside).toBe(true);
        expect(list.trusts(outside), outside).toBe(false);
      }
    }
    expect(list.trusts('::ffff:10.0.0.1')).toBe(true);
    expect(list.trusts('not an address')).toBe(false);
  });
  it.each(['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '1.2.3.4/x'])('refuses the setting %s', (cidr) => {
    expect(() => TrustedProxies.parse(cidr)).toThrow(cidr);
  });
});
