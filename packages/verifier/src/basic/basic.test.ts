import { describe, expect, it } from 'vitest';
import { hashSecret } from '../secrets/scrypt.js';
import { ClientAuthenticator, type ClientResource } from './client-authenticator.js';
import { basicCredentials } from './credentials.js';
import { FailureThrottle } from './throttle.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('basicCredentials (RFC 7617)', () => {
  it.each([
    [`Basic ${b64('basic:secret')}`, { id: 'basic', secret: 'secret' }],
    [`bAsIc ${b64('c:se:cr:et')}`, { id: 'c', secret: 'se:cr:et' }],
    [`Basic ${b64('c:')}`, { id: 'c', secret: '' }],
    [`Basic ${b64('ü:pässword')}`, { id: 'ü', secret: 'pässword' }],
  ])('reads %s', (header, expected) => {
    expect(basicCredentials(header)).toEqual(expected);
  });

  it('leaves other schemes alone', () => {
    expect(basicCredentials('Bearer abc')).toBeUndefined();
  });

  it.each([
    ['Basic', /carries no credentials/],
    ['Basic !!!!', /not base64/],
    [`Basic ${b64('basic:secret').replace(/=+$/, '')}x`, /not base64/],
    [`Basic ${b64('no-colon')}`, /base64 of "client-id:secret"/],
    [`Basic ${b64(':secret')}`, /base64 of "client-id:secret"/],
    [`Basic ${b64('c:se\ncret')}`, /no control characters/],
    [`Basic ${Buffer.from([0x63, 0x3a, 0xff]).toString('base64')}`, /UTF-8/],
    [`Basic ${'A'.repeat(4100)}`, /longer than 4096/],
  ])('refuses %s', (header, reason) => {
    expect(basicCredentials(header)).toMatch(reason);
  });
});

describe('ClientAuthenticator (DESIGN §12)', () => {
  async function setup(grant_types: unknown = ['basic']) {
    const clients = new Map<string, ClientResource>();
    clients.set('basic', {
      resourceType: 'Client',
      id: 'basic',
      secret: await hashSecret('secret'),
      grant_types,
    });
    let now = 0;
    const throttle = new FailureThrottle({ maxFailures: 3, windowMs: 60_000 }, () => now);
    const auth = new ClientAuthenticator({ client: (id) => clients.get(id), throttle });
    return { clients, auth, advance: (ms: number) => (now += ms) };
  }

  it('accepts the right secret and returns the Client without it, then answers from memory', async () => {
    const { auth } = await setup();
    const first = await auth.authenticate({ id: 'basic', secret: 'secret' }, '203.0.113.1');
    expect(first).toEqual({ client: { resourceType: 'Client', id: 'basic', grant_types: ['basic'] } });
    const again = auth.authenticate({ id: 'basic', secret: 'secret' }, '203.0.113.1');
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toEqual(first);
  });

  it('answers a wrong secret and an unknown client alike', async () => {
    const { auth } = await setup();
    const wrong = await auth.authenticate({ id: 'basic', secret: 'guess' }, 'a');
    const unknown = await auth.authenticate({ id: 'nobody', secret: 'secret' }, 'a');
    expect(wrong).toEqual({
      failure: 'bad_credentials',
      reason: 'the Basic credentials name no Client with that secret',
    });
    expect(unknown).toEqual(wrong);
  });

  it.each([[['client_credentials']], [null], ['basic']])(
    'refuses a Client whose grant_types are %j',
    async (grants) => {
      const { auth } = await setup(grants);
      expect(await auth.authenticate({ id: 'basic', secret: 'secret' }, 'a')).toEqual({
        failure: 'no_basic_grant',
        reason: 'Client/basic may not authenticate with HTTP Basic: its grant_types lack "basic"',
      });
    },
  );

  it('forgets a remembered secret once the Client secret changes', async () => {
    const { auth, clients } = await setup();
    expect(await auth.authenticate({ id: 'basic', secret: 'secret' }, 'a')).toHaveProperty('client');
    clients.set('basic', { ...clients.get('basic'), secret: await hashSecret('rotated') });
    expect(await auth.authenticate({ id: 'basic', secret: 'secret' }, 'a')).toHaveProperty(
      'failure',
      'bad_credentials',
    );
    expect(await auth.authenticate({ id: 'basic', secret: 'rotated' }, 'a')).toHaveProperty('client');
  });

  it('makes an address that keeps failing wait, without locking out other addresses', async () => {
    const { auth, advance } = await setup();
    for (let i = 0; i < 3; i++) await auth.authenticate({ id: 'basic', secret: `guess-${i}` }, 'attacker');
    expect(auth.authenticate({ id: 'basic', secret: 'secret' }, 'attacker')).toEqual({
      failure: 'throttled',
      reason: 'too many failed Basic sign-ins from this address; try again in 60 s',
      retryAfter: 60,
    });
    expect(await auth.authenticate({ id: 'basic', secret: 'secret' }, 'client')).toHaveProperty('client');
    advance(60_001);
    expect(await auth.authenticate({ id: 'basic', secret: 'secret' }, 'attacker')).toHaveProperty('client');
  });

  it('gives guesses sent at once no more tries than guesses sent one by one', async () => {
    const { auth } = await setup();
    // 20 wrong guesses, all in flight before any scrypt run ends.
    const guesses = Array.from({ length: 20 }, (_, i) =>
      auth.authenticate({ id: 'basic', secret: `guess-${i}` }, 'attacker'),
    );
    const failures = (await Promise.all(guesses)).map((r) => ('failure' in r ? r.failure : 'accepted'));
    expect(failures.filter((f) => f === 'bad_credentials')).toHaveLength(3);
    expect(failures.filter((f) => f === 'throttled')).toHaveLength(17);
  });
});
