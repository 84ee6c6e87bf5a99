import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAssertionSigner, readAssertionKey } from './assertion.js';
import { requestHtu } from './origin.js';

const dir = mkdtempSync(join(tmpdir(), 'authz-assertion-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, pem: string | Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, pem);
  return file;
}

describe('assertion signing key (GATEWAY_ASSERTION_KEY_FILE)', () => {
  it.each([
    [
      'EC P-256 (PKCS#8)',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }),
      'ES256',
    ],
    [
      'EC P-256 (SEC1)',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }),
      'ES256',
    ],
    [
      'RSA 2048 (PKCS#1)',
      () =>
        generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
          type: 'pkcs1',
          format: 'pem',
        }),
      'RS256',
    ],
  ])('accepts %s', (name, pem, alg) => {
    expect(readAssertionKey(keyFile(`${name}.pem`, pem())).alg).toBe(alg);
  });

  it.each([
    [
      'ed25519',
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
      'is a ed25519 key; use EC P-256 or RSA',
    ],
    [
      'p384',
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
      'is a EC secp384r1 key',
    ],
    [
      'rsa1024',
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
      'shorter than 2048 bits',
    ],
    [
      'public',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
      'does not hold a PEM private key',
    ],
  ])('refuses %s', (name, pem, message) => {
    expect(() => readAssertionKey(keyFile(`${name}.pem`, pem))).toThrow(message);
  });

  it('refuses a missing file naming it', () => {
    expect(() => readAssertionKey(join(dir, 'absent.pem'))).toThrow(
      `cannot read ${join(dir, 'absent.pem')}: ENOENT`,
    );
  });

  it('signs claims the JWKS verifies, kid = RFC 7638 thumbprint, exp ≤ 60 s', async () => {
    const file = keyFile(
      'sign.pem',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const signer = await loadAssertionSigner({ keyFile: file, issuer: 'authz', audience: 'fhir' });
    const jwt = await signer.sign(
      {
        allow: true,
        status: 200,
        reason: 'ok',
        policy: 'p',
        identity: { kind: 'jwt', introspector: 'i', sub: 's' },
      },
      { method: 'GET', htu: requestHtu('https://h.example', '/fhir/Patient?x=1') },
    );
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', kid: signer.kid, typ: 'JWT' });
    const { payload } = await jwtVerify(jwt, createLocalJWKSet(signer.jwks), {
      issuer: 'authz',
      audience: 'fhir',
    });
    expect(payload).toMatchObject({
      sub: 's',
      htm: 'GET',
      htu: 'https://h.example/fhir/Patient',
      authz: { policy: 'p', introspector: 'i' },
    });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(signer.kid).toMatch(/^[\w-]{43}$/);
  });

  it('signs RS256 with an RSA key, and escapes names and targets as JSON', async () => {
    const file = keyFile(
      'sign-rsa.pem',
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }),
    );
    const signer = await loadAssertionSigner({ keyFile: file, issuer: 'iss "quoted"' });
    const user = 'ü\\"\u2028</script>';
    const reply = {
      allow: true,
      status: 200,
      reason: 'ok',
      identity: { kind: 'jwt' as const, introspector: 'i', user, client: 'c' },
    };
    const request = { method: 'GET', htu: 'https://h.example/fhir/Patient/a"b' };
    const [first, second] = [await signer.sign(reply, request), await signer.sign(reply, request)];
    expect(decodeProtectedHeader(first)).toEqual({ alg: 'RS256', kid: signer.kid, typ: 'JWT' });
    const jwks = createLocalJWKSet(signer.jwks);
    const { payload } = await jwtVerify(first, jwks, { issuer: 'iss "quoted"' });
    expect(payload).toMatchObject({
      sub: user,
      htm: 'GET',
      htu: request.htu,
      authz: { introspector: 'i', client: 'c' },
    });
    expect(payload.aud).toBeUndefined();
    // Every assertion is its own: a fresh jti each time.
    expect((await jwtVerify(second, jwks)).payload.jti).not.toBe(payload.jti);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });
});
