import { describe, expect, it } from 'vitest';
import { newTraceparent } from './gateway.js';

describe('newTraceparent', () => {
  it('makes W3C traceparents with fresh ids, across refills of its entropy pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const value = newTraceparent();
      expect(value).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(value).not.toMatch(/^00-0{32}-|-0{16}-01$/);
      seen.add(value.slice(3, 35));
      seen.add(value.slice(36, 52));
    }
    expect(seen.size).toBe(4000);
  });
});
