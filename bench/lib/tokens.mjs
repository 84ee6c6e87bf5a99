// JWTs for the benchmark, signed with node:crypto (no JOSE library needed to mint).
import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const b64u = (value) => Buffer.from(value).toString('base64url');

/** Keys and secrets of the benchmark's three JWT issuers. */
export function generateKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    hsSecret: randomBytes(32).toString('hex'),
    rsPrivatePem: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    rsPublicPem: rsa.publicKey.export({ type: 'spki', format: 'pem' }),
    esPrivatePem: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    esPublicPem: ec.publicKey.export({ type: 'spki', format: 'pem' }),
  };
}

/** A compact JWS (HS256, RS256 or ES256) over `claims`. `key`: the secret or a private key (PEM / KeyObject). */
export function mintJwt(alg, key, claims) {
  const input = `${b64u(JSON.stringify({ alg, typ: 'JWT' }))}.${b64u(JSON.stringify(claims))}`;
  let signature;
  if (alg === 'HS256') signature = createHmac('sha256', key).update(input).digest();
  else if (alg === 'RS256') signature = sign('sha256', Buffer.from(input), key);
  else if (alg === 'ES256')
    signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else throw new Error(`unsupported alg ${alg}`);
  return `${input}.${b64u(signature)}`;
}

/** Claims of the i-th token of a series: valid for an hour, unique by `jti`. */
export function claimsFor(iss, series, i, sub = 'bench-user') {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss,
    sub,
    aud: 'authz-bench',
    scope: 'openid fhir',
    iat: now - 5,
    exp: now + 3600,
    jti: `${series}-${i}`,
  };
}

/**
 * `count` unique tokens of one series (`sub(i)` names the user of the i-th).
 * @param {(i: number) => string} [sub]
 */
export function mintSeries(alg, key, iss, series, count, sub = () => 'bench-user') {
  const tokens = new Array(count);
  for (let i = 0; i < count; i++) tokens[i] = mintJwt(alg, key, claimsFor(iss, series, i, sub(i)));
  return tokens;
}

/**
 * RS256 signing costs about a millisecond per token, so a series is minted by worker threads,
 * one per CPU, before any load runs.
 */
export async function mintSeriesParallel(alg, keyPem, iss, series, count) {
  const threads = Math.max(1, Math.min(availableParallelism(), 8));
  const per = Math.ceil(count / threads);
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, t) => {
      const from = t * per;
      const to = Math.min(count, from + per);
      if (from >= to) return Promise.resolve([]);
      return new Promise((resolve, reject) => {
        const worker = new Worker(new URL('./mint-thread.mjs', import.meta.url), {
          workerData: { alg, keyPem, iss, series, from, to },
        });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    }),
  );
  return parts.flat();
}
