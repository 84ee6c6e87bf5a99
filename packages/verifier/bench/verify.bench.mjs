#!/usr/bin/env node
// Micro-benchmark of JWT verification: jose's jwtVerify (WebCrypto) against this package's
// node:crypto path, for unique tokens, and the verified-token cache hit.
//
//   pnpm --filter @authz/verifier build && node packages/verifier/bench/verify.bench.mjs [--quick]
//
// Runs against dist/ (what services run). Prints µs per verification; numbers in the report
// come from this script.
import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { exportJWK, importJWK, jwtVerify, SignJWT } from 'jose';
import { TokenVerifier } from '../dist/index.js';
import { checkClaims } from '../dist/jwt/claims.js';
import { parseJwt } from '../dist/jwt/compact.js';
import { verifySignature } from '../dist/keys/signature.js';

const quick = process.argv.includes('--quick');
const N = quick ? 300 : 3000;
const ISS = 'https://auth.example.com';
/** @type {import('../dist/jwt/claims.js').ClaimRules} */
const rules = { introspector: 'bench', clockSkewSeconds: 60, maxLifetimeSeconds: 86_400 };

/**
 * @param {string} alg
 * @returns {{ secret?: Buffer, privateKey?: import('node:crypto').KeyObject, publicKey?: import('node:crypto').KeyObject }}
 */
function keyPair(alg) {
  if (alg.startsWith('HS')) return { secret: Buffer.from('bench-secret-bench-secret-bench-secret') };
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519');
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

async function mint(alg, signingKey, count) {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return Promise.all(
    Array.from({ length: count }, (_, jti) =>
      new SignJWT({ iss: ISS, sub: 'user', jti: String(jti), exp })
        .setProtectedHeader({ alg, kid: 'k1' })
        .sign(signingKey),
    ),
  );
}

// Each measurement runs ROUNDS times and keeps the fastest: the minimum is the figure least
// disturbed by whatever else the machine is doing. Both wall time and process CPU time (all
// threads, so WebCrypto's thread-pool work counts) are reported, in µs per verification.
const ROUNDS = quick ? 3 : 7;

function cpuNow() {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function timeAsync(tokens, makeFn) {
  const best = { wall: Infinity, cpu: Infinity };
  for (let round = 0; round < ROUNDS; round++) {
    const fn = makeFn();
    const [wall, cpu] = [performance.now(), cpuNow()];
    for (const t of tokens) await fn(t);
    best.wall = Math.min(best.wall, ((performance.now() - wall) * 1000) / tokens.length);
    best.cpu = Math.min(best.cpu, (cpuNow() - cpu) / tokens.length);
  }
  return best;
}

function timeSync(tokens, fn) {
  return timeAsync(tokens, () => fn);
}

const rows = [];
for (const alg of ['HS256', 'RS256', 'PS256', 'ES256', 'EdDSA']) {
  process.stderr.write(`${alg} `);
  const pair = keyPair(alg);
  const signingKey = pair.secret ?? pair.privateKey;
  const tokens = await mint(alg, signingKey, N);
  // jose: key imported once (as a service would), jwtVerify per token.
  const joseKey = pair.secret ?? (await importJWK(await exportJWK(pair.publicKey), alg));
  const jose = await timeAsync(tokens, () => (t) => jwtVerify(t, joseKey, { issuer: ISS }));
  // node:crypto: parse + signature + claims, synchronous.
  const key = /** @type {import('../dist/keys/signature.js').VerificationKey} */ ({
    alg,
    key: pair.secret ? createSecretKey(pair.secret) : pair.publicKey,
  });
  const now = Date.now();
  const raw = await timeSync(tokens, (t) => {
    const parsed = parseJwt(t);
    if (!verifySignature(key, parsed.signingInput, parsed.signature)) throw new Error('bad signature');
    checkClaims(parsed.payload, rules, now);
  });
  // The whole TokenVerifier.verify for unique tokens (hash, parse, candidates, crypto, cache insert).
  const keysConfig = pair.secret
    ? { secret: pair.secret.toString() }
    : {
        keys: [
          {
            kty: alg === 'ES256' ? 'EC' : alg === 'EdDSA' ? 'OKP' : 'RSA',
            alg,
            format: 'PEM',
            pub: pair.publicKey.export({ type: 'spki', format: 'pem' }),
          },
        ],
      };
  const full = await timeAsync(tokens, () => {
    // a fresh verifier per round, so every token is unique to it
    const verifier = new TokenVerifier({ maxCachedTokens: N * 2 });
    verifier.setIntrospectors([
      /** @type {import('@authz/protocol').TokenIntrospector} */ ({
        resourceType: 'TokenIntrospector',
        id: 'bench',
        type: 'jwt',
        jwt: { iss: ISS, ...keysConfig },
      }),
    ]);
    return (t) => verifier.verify(t);
  });
  rows.push({ alg, jose, raw, full });
}

// Cache hit: the same token again and again.
const verifier = new TokenVerifier();
verifier.setIntrospectors([
  { resourceType: 'TokenIntrospector', id: 'bench', type: 'jwt', jwt: { iss: ISS, secret: 'very-secret' } },
]);
const [hot] = await mint('HS256', Buffer.from('very-secret'), 1);
await verifier.verify(hot);
const hits = Array(quick ? 20_000 : 200_000).fill(hot);
const cached = await timeAsync(hits, () => (t) => verifier.verify(t));

const fmt = (m) => `${m.wall.toFixed(1).padStart(6)} /${m.cpu.toFixed(1).padStart(6)}`;
console.log(
  `node ${process.version}, ${N} unique tokens per algorithm; µs per verification, wall / CPU (best of ${ROUNDS})`,
);
console.log('alg      jose.jwtVerify   node:crypto      TokenVerifier    jose/node (CPU)');
for (const r of rows) {
  console.log(
    `${r.alg.padEnd(8)} ${fmt(r.jose)}  ${fmt(r.raw)}  ${fmt(r.full)}  ${(r.jose.cpu / r.raw.cpu).toFixed(1)}x`,
  );
}
console.log(`cached hit (same token, TokenVerifier.verify): ${fmt(cached)}`);
