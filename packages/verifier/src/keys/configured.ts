import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { JwsAlgorithm, JwtKey } from '@authz/protocol';
import type { ConfigIssue } from '../errors.js';
import {
  algorithmFitsKty,
  algorithmsForKty,
  type ConfiguredKty,
  isKnownAlgorithm,
  keyMismatch,
} from './algorithms.js';
import { secretLooksLikeKey } from './secret-shape.js';
import type { VerificationKey } from './signature.js';

/** JWK members that only private keys carry (RFC 7518 §6.3.2, §6.2.2, RFC 8037 §2). */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'] as const;

const HMAC_ALGORITHMS: readonly JwsAlgorithm[] = ['HS256', 'HS384', 'HS512'];

/**
 * `jwt.secret` as keys: one per HMAC algorithm, all over the same bytes (UTF-8 of the string,
 * as Aidbox and jwt.io use it). Only HS256/384/512 tokens can ever match them.
 */
export function importSecret(secret: string): VerificationKey[] {
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return HMAC_ALGORITHMS.map((alg) => ({ alg, key }));
}

/**
 * Imports `jwt.keys` synchronously (the config service validates at PUT, before anything is
 * stored), applying the rules jose applies on import: the key type must match `kty`, the
 * algorithm must belong to the key type and curve, RSA keys have at least 2048 bits, and no
 * private key material is accepted. Problems are appended to `issues` with the field's path.
 */
export function importConfiguredKeys(keys: readonly JwtKey[], issues: ConfigIssue[]): VerificationKey[] {
  const imported: VerificationKey[] = [];
  keys.forEach((entry, index) => {
    const key = importConfiguredKey(entry, `jwt.keys[${index}]`, issues);
    if (key) imported.push(key);
  });
  return imported;
}

function importConfiguredKey(
  entry: JwtKey,
  path: string,
  issues: ConfigIssue[],
): VerificationKey | undefined {
  const before = issues.length;
  const kty = normalizeKty(entry.kty);
  if (!kty) {
    issues.push({
      path: `${path}.kty`,
      message: `must be one of RSA, EC, OCT, OKP (got ${JSON.stringify(entry.kty)})`,
    });
    return undefined;
  }
  if (!isKnownAlgorithm(entry.alg)) {
    issues.push({ path: `${path}.alg`, message: `must be one of ${algorithmsForKty(kty).join(', ')}` });
    return undefined;
  }
  if (!algorithmFitsKty(entry.alg, kty)) {
    const fitting = algorithmsForKty(kty).join(', ');
    issues.push({
      path: `${path}.alg`,
      message: `${entry.alg} is not an algorithm for a ${kty} key; use one of ${fitting}`,
    });
    return undefined;
  }
  const material = readMaterial(entry, kty, entry.alg, path, issues);
  if (!material) return undefined;
  const mismatch = keyMismatch(material.key, entry.alg);
  if (mismatch) issues.push({ path: material.path, message: mismatch });
  if (issues.length > before) return undefined;
  return entry.kid === undefined
    ? { alg: entry.alg, key: material.key }
    : { alg: entry.alg, kid: entry.kid, key: material.key };
}

function normalizeKty(kty: string): ConfiguredKty | undefined {
  if (kty === 'oct' || kty === 'OCT') return 'OCT';
  return kty === 'RSA' || kty === 'EC' || kty === 'OKP' ? kty : undefined;
}

/** The key object a `jwt.keys[]` entry describes, and the path of the member it came from. */
function readMaterial(
  entry: JwtKey,
  kty: ConfiguredKty,
  alg: JwsAlgorithm,
  path: string,
  issues: ConfigIssue[],
): { key: KeyObject; path: string } | undefined {
  const fail = (at: string, message: string) => {
    issues.push({ path: `${path}.${at}`, message });
    return undefined;
  };
  switch (entry.format) {
    case 'PEM': {
      if (kty === 'OCT')
        return fail('format', 'OCT keys are shared secrets: use format plain (k) or JWK (jwk)');
      if (entry.pub === undefined) return fail('pub', 'is required for format PEM');
      const key = parsePublicPem(entry.pub);
      return typeof key === 'string' ? fail('pub', key) : { key, path: `${path}.pub` };
    }
    case 'plain': {
      if (kty !== 'OCT')
        return fail('format', `plain is for OCT secrets; give a ${kty} key as PEM (pub) or JWK (jwk)`);
      const secret = entry.k ?? entry.pub;
      if (secret === undefined) return fail('k', 'is required for an OCT key in format plain');
      const keyShaped = secretLooksLikeKey(secret);
      if (keyShaped) return fail(entry.k === undefined ? 'pub' : 'k', keyShaped);
      return {
        key: createSecretKey(Buffer.from(secret, 'utf8')),
        path: `${path}.${entry.k === undefined ? 'pub' : 'k'}`,
      };
    }
    case 'JWK': {
      if (entry.jwk === undefined) return fail('jwk', 'is required for format JWK');
      const key = parseJwk(entry.jwk as Record<string, unknown>, kty, alg);
      return typeof key === 'string' ? fail('jwk', key) : { key, path: `${path}.jwk` };
    }
    default:
      return fail('format', 'must be one of PEM, plain, JWK');
  }
}

const PEM_BLOCK = /^-----BEGIN ((?:RSA )?PUBLIC KEY)-----([\s\S]*?)-----END \1-----$/;

/**
 * A public key from PEM (SPKI `BEGIN PUBLIC KEY`, or PKCS#1 `BEGIN RSA PUBLIC KEY`), or why not.
 * Whitespace inside the base64 body is normalised, so a PEM pasted on one line still parses.
 */
export function parsePublicPem(pem: string): KeyObject | string {
  const text = pem.trim();
  if (/PRIVATE KEY-----/.test(text))
    return 'is a private key; configure the public key (-----BEGIN PUBLIC KEY-----)';
  const match = PEM_BLOCK.exec(text);
  if (!match)
    return 'is not a PEM public key (expected -----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----)';
  const label = match[1] as string;
  const body = (match[2] as string).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return 'is not a valid PEM public key: the body is not base64';
  const wrapped = body.replace(/.{1,64}/g, '$&\n');
  try {
    return createPublicKey({
      key: `-----BEGIN ${label}-----\n${wrapped}-----END ${label}-----\n`,
      format: 'pem',
    });
  } catch {
    return 'is not a valid PEM public key: its DER content does not parse';
  }
}

/** A key from a JWK object (RFC 7517) that must be of type `kty`, or why not. */
export function parseJwk(
  jwk: Record<string, unknown>,
  kty: ConfiguredKty,
  alg: JwsAlgorithm,
): KeyObject | string {
  const expected = kty === 'OCT' ? 'oct' : kty;
  if (jwk.kty !== expected) return `has kty ${JSON.stringify(jwk.kty)}, but the key is declared ${kty}`;
  if (jwk.alg !== undefined && jwk.alg !== alg)
    return `has alg ${JSON.stringify(jwk.alg)}, but the key is pinned to ${alg}`;
  if (jwk.use !== undefined && jwk.use !== 'sig')
    return `has use ${JSON.stringify(jwk.use)}; only signature keys verify tokens`;
  if (kty !== 'OCT' && PRIVATE_JWK_MEMBERS.some((m) => jwk[m] !== undefined)) {
    return 'contains private key material; configure the public key only';
  }
  if (kty === 'OCT') {
    const k = jwk.k;
    if (typeof k !== 'string' || k.length === 0 || !/^[A-Za-z0-9_-]+$/.test(k))
      return 'needs k, the base64url secret';
    const keyShaped = secretLooksLikeKey(Buffer.from(k, 'base64url').toString('utf8'));
    if (keyShaped) return `k ${keyShaped}`;
    return createSecretKey(Buffer.from(k, 'base64url'));
  }
  try {
    return createPublicKey({ key: jwk as never, format: 'jwk' });
  } catch {
    return `is not a valid ${kty} public JWK`;
  }
}
