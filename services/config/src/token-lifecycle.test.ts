import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigFixture, startConfigFixture } from './testing/fixture.js';

// DESIGN §11 at PUT time: HMAC secrets that are really public keys are refused.

let config: ConfigFixture;
beforeAll(async () => {
  config = await startConfigFixture();
});
afterAll(async () => {
  await config?.close();
});

const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const der = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const jwk = JSON.stringify(publicKey.export({ format: 'jwk' }));

const put = (id: string, body: unknown) =>
  config.request(`/TokenIntrospector/${id}`, {
    method: 'PUT',
    body: JSON.stringify({ resourceType: 'TokenIntrospector', ...(body as object) }),
    headers: { 'content-type': 'application/json' },
  });

describe('HMAC secrets that parse as keys (algorithm confusion by configuration)', () => {
  it.each([
    ['a PEM public key', pem, /is a PEM block/],
    ['a JWK', jwk, /is a JWK/],
    ['base64 DER of a public key', der, /base64 DER public key or certificate/],
  ])('refuses jwt.secret holding %s with 422 naming jwt.secret', async (_n, secret, message) => {
    const res = await put('confused', { type: 'jwt', jwt: { iss: 'https://idp', secret } });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as { issue: Array<{ expression: string[]; diagnostics: string }> };
    expect(outcome.issue).toHaveLength(1);
    expect(outcome.issue[0]?.expression).toEqual(['TokenIntrospector.jwt.secret']);
    expect(outcome.issue[0]?.diagnostics).toMatch(message);
  });

  it('refuses a kty OCT key in format plain that is a PEM, naming jwt.keys[0].k', async () => {
    const res = await put('confused-oct', {
      type: 'jwt',
      jwt: { iss: 'https://idp', keys: [{ kty: 'OCT', alg: 'HS256', format: 'plain', k: pem }] },
    });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as { issue: Array<{ expression: string[] }> };
    expect(outcome.issue[0]?.expression).toEqual(['TokenIntrospector.jwt.keys[0].k']);
  });

  it('still accepts an ordinary secret, such as the seed very-secret', async () => {
    const res = await put('seed', { type: 'jwt', jwt: { iss: 'https://idp', secret: 'very-secret' } });
    expect(res.status).toBe(201);
  });

  it('refuses jwt.max_lifetime outside 1..31536000 with 422 naming it', async () => {
    const res = await put('eternal', {
      type: 'jwt',
      jwt: { iss: 'https://idp', secret: 'very-secret', max_lifetime: 0 },
    });
    expect(res.status).toBe(422);
    const outcome = (await res.json()) as { issue: Array<{ expression: string[] }> };
    expect(outcome.issue[0]?.expression).toEqual(['TokenIntrospector.jwt.max_lifetime']);
  });
});
