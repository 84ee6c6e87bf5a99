import { describe, expect, it } from 'vitest';
import { CredentialThrottle } from './credential-throttle.js';
import { ApiError } from './errors.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const refusal = (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    return err as ApiError;
  }
  return undefined;
};

describe('CredentialThrottle', () => {
  it('delays every refusal by failureDelayMs', async () => {
    const throttle = new CredentialThrottle({ failureDelayMs: 60 });
    const started = performance.now();
    await throttle.fail('10.0.0.1');
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('makes an address wait after maxFailures refusals, until the window passes', async () => {
    const time = clock();
    const throttle = new CredentialThrottle(
      { failureDelayMs: 0, maxFailures: 3, windowMs: 60_000 },
      time.now,
    );
    for (let i = 0; i < 3; i++) {
      throttle.assertAllowed('10.0.0.1');
      await throttle.fail('10.0.0.1');
    }
    const err = refusal(() => throttle.assertAllowed('10.0.0.1'));
    expect(err).toBeInstanceOf(ApiError);
    expect(err?.code).toBe('ERR_TOO_MANY_ATTEMPTS');
    expect(err?.status).toBe(429);
    expect(err?.headers['retry-after']).toBe('60');
    expect(refusal(() => throttle.assertAllowed('10.0.0.2'))).toBeUndefined();
    time.advance(60_001);
    expect(refusal(() => throttle.assertAllowed('10.0.0.1'))).toBeUndefined();
  });

  it('never makes a fresh address wait, however many other addresses failed', async () => {
    const throttle = new CredentialThrottle({ failureDelayMs: 0, maxFailures: 5 });
    for (let a = 0; a < 200; a++)
      for (let i = 0; i < 5; i++) await throttle.fail(`10.0.${a >> 8}.${a & 255}`);
    expect(refusal(() => throttle.assertAllowed('10.9.9.9'))).toBeUndefined();
  });

  it('forgets an address that signed in', async () => {
    const throttle = new CredentialThrottle({ failureDelayMs: 0, maxFailures: 2 });
    await throttle.fail('10.0.0.1');
    await throttle.fail('10.0.0.1');
    throttle.succeed('10.0.0.1');
    expect(refusal(() => throttle.assertAllowed('10.0.0.1'))).toBeUndefined();
  });
});
