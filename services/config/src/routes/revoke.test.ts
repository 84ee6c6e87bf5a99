import { Writable } from 'node:stream';
import { hashToken, parseRevocationEntry, revocationKey } from '@authz/protocol';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RevocationStore } from '../store/revocation-store.js';
import { type ConfigFixture, startConfigFixture } from '../testing/fixture.js';

const TOKEN = 'opaque-token-4f1c9a-never-in-logs';
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const json = { 'content-type': 'application/json' };

let config: ConfigFixture;
let logs = '';

beforeAll(async () => {
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk, _enc, done) {
        logs += chunk.toString();
        done();
      },
    }),
  );
  config = await startConfigFixture({ logger });
});
afterAll(async () => {
  await config?.close();
});

async function storedEntry(key: string) {
  const entry = await config.revocationKv.get(key);
  return entry && entry.operation === 'PUT' ? parseRevocationEntry(entry.json()) : undefined;
}

/** A JWT-shaped token with this payload (unsigned: the route only reads `exp` to size retention). */
const jwtShaped = (payload: object) =>
  `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2ln`;

describe('POST /$revoke', () => {
  it.each([
    ['a form body', `token=${encodeURIComponent(TOKEN)}`, form],
    ['a JSON body', JSON.stringify({ token: TOKEN }), json],
  ])('with %s: stores only the hash in the durable bucket, kept 7 days', async (_n, body, headers) => {
    const before = Math.floor(Date.now() / 1000);
    const res = await config.request('/$revoke', { method: 'POST', body, headers });
    expect(res.status).toBe(200);
    const reply = (await res.json()) as Record<string, unknown>;
    expect(reply).toMatchObject({ revoked: true, token_hash: hashToken(TOKEN) });
    const key = `token.${hashToken(TOKEN)}`;
    const stored = await storedEntry(key);
    expect(stored).toMatchObject({ kind: 'token', token_hash: hashToken(TOKEN) });
    expect(stored?.expires_at).toBeGreaterThanOrEqual(before + 7 * 86400);
    expect(stored?.expires_at).toBeLessThanOrEqual(before + 7 * 86400 + 2);
    const raw = await config.revocationKv.get(key);
    expect(raw?.string()).not.toContain(TOKEN);
    expect(logs).toContain('token revoked');
    expect(logs).not.toContain(TOKEN);
  });

  it('keeps a revoked JWT until its exp plus the largest clock skew', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const token = jwtShaped({ iss: 'https://idp', exp });
    const res = await config.request('/$revoke', {
      method: 'POST',
      body: JSON.stringify({ token }),
      headers: json,
    });
    expect(res.status).toBe(200);
    expect((await storedEntry(`token.${hashToken(token)}`))?.expires_at).toBe(exp + 3600);
  });

  it('revokes a subject: every token issued until now, kept for max_lifetime plus skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await config.request('/$revoke', {
      method: 'POST',
      body: JSON.stringify({ iss: 'https://idp', sub: 'u1' }),
      headers: json,
    });
    expect(res.status).toBe(200);
    const reply = (await res.json()) as { before: number; expires_at: number };
    expect(reply).toMatchObject({ revoked: true, iss: 'https://idp', sub: 'u1' });
    expect(reply.before - now).toBeLessThanOrEqual(1);
    expect(reply.expires_at).toBe(reply.before + 86400 + 3600);
    const key = revocationKey({
      kind: 'subject',
      iss: 'https://idp',
      sub: 'u1',
      before: 0,
      revoked_at: 0,
      expires_at: 0,
    });
    expect(await storedEntry(key)).toMatchObject({
      kind: 'subject',
      iss: 'https://idp',
      sub: 'u1',
      before: reply.before,
    });
  });

  it.each([
    ['no token', 'x=1', form, undefined],
    ['an empty token', 'token=', form, 'token'],
    ['a token that is not a string', '{"token": 42}', json, 'token'],
    ['an empty object', '{}', json, undefined],
    ['iss without sub', '{"iss": "https://idp"}', json, 'iss'],
    ['both a token and a subject', '{"token": "t", "iss": "https://idp", "sub": "u"}', json, 'token'],
  ])('refuses %s with 400 saying what to name', async (_n, body, headers, field) => {
    const res = await config.request('/$revoke', { method: 'POST', body, headers });
    expect(res.status).toBe(400);
    const outcome = (await res.json()) as { issue: Array<{ expression?: string[]; diagnostics: string }> };
    expect(outcome.issue[0]?.diagnostics).toMatch(/^the body must name what to revoke/);
    expect(outcome.issue[0]?.expression).toEqual(field ? [field] : undefined);
  });

  it('refuses YAML bodies with 415', async () => {
    const res = await config.request('/$revoke', {
      method: 'POST',
      body: `token: ${TOKEN}`,
      headers: { 'content-type': 'text/yaml' },
    });
    expect(res.status).toBe(415);
  });

  it('prunes entries whose tokens can no longer be valid, leaving nothing behind', async () => {
    const store = new RevocationStore(config.nc, config.revocationKv, pino({ level: 'silent' }));
    const now = Math.floor(Date.now() / 1000);
    await store.put({ kind: 'token', token_hash: 'expired-hash', revoked_at: now - 10, expires_at: now - 1 });
    await store.put({ kind: 'token', token_hash: 'live-hash', revoked_at: now, expires_at: now + 100 });
    expect(await store.prune()).toBeGreaterThanOrEqual(1);
    expect(await config.revocationKv.get('token.expired-hash')).toBeNull();
    expect(await storedEntry('token.live-hash')).toMatchObject({ token_hash: 'live-hash' });
  });
});
