import { describe, expect, it } from 'vitest';
import { ApiError } from '../http/errors.js';
import { LoginThrottle } from './login-throttle.js';

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

describe('LoginThrottle', () => {
  it('delays every refusal by failureDelayMs', async () => {
    const throttle = new LoginThrottle({ failureDelayMs: 60 });
    const started = performance.now();
    await throttle.fail('10.0.0.1');
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('makes an address wait after maxFailures refusals, until the window passes', async () => {
    const time = clock();
    const throttle = new LoginThrottle({ failureDelayMs: 0, maxFailures: 3, windowMs: 60_000 }, time.now);
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

  it('makes everyone wait when refusals come from many addresses', async () => {
    const throttle = new LoginThrottle({ failureDelayMs: 0, maxFailures: 5, maxGlobalFailures: 4 });
    for (let i = 0; i < 4; i++) await throttle.fail(`10.0.0.${i}`);
    expect(refusal(() => throttle.assertAllowed('10.9.9.9'))?.code).toBe('ERR_TOO_MANY_ATTEMPTS');
  });

  it('forgets an address that signed in', async () => {
    const throttle = new LoginThrottle({ failureDelayMs: 0, maxFailures: 2 });
    await throttle.fail('10.0.0.1');
    await throttle.fail('10.0.0.1');
    throttle.succeed('10.0.0.1');
    expect(refusal(() => throttle.assertAllowed('10.0.0.1'))).toBeUndefined();
  });
});
