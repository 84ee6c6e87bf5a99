// dpop_unique (issue 16, DESIGN §13): a cached DPoP-bound JWT (cnf.jkt) with a fresh ES256 proof
// on every request, so each check verifies a proof signature and does one Redis SET NX for its
// jti. Proofs are minted with node:crypto before each measured slice (never inside it) and sent
// once each. Also measures µs per proof verification in-process (verifyDpopProof, no NATS).
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { verifyDpopProof } from '../../packages/verifier/dist/index.js';
import { checkMessage, expectAllowed, SUBJECTS } from './cluster.mjs';
import { Measurement } from './measure.mjs';
import { natsLoad } from './nats-load.mjs';
import { cpuMicros } from './procs.mjs';
import { ISS, PROBE } from './resources.mjs';
import { claimsFor, mintJwt } from './tokens.mjs';

/** The origin the gateway puts in the check (as GATEWAY_PUBLIC_URL would): the proofs' htu base. */
const ORIGIN = 'https://fhir.example.com';
const HTU = `${ORIGIN}${PROBE.uri.split('?')[0]}`;
const b64u = (value) => Buffer.from(value).toString('base64url');

/** A client's DPoP key: the private key, the public JWK for the proof header and its RFC 7638 thumbprint. */
export function dpopKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const jwk = { kty, crv, x, y };
  // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
  const jkt = b64u(createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest());
  return { privateKey, jwk, jkt };
}

/** `count` DPoP proofs (RFC 9449 §4.2) for GET HTU with `token`, each with its own jti. */
export function mintProofs(key, token, count, series) {
  const header = b64u(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk }));
  const ath = b64u(createHash('sha256').update(token).digest());
  const iat = Math.floor(Date.now() / 1000);
  const proofs = new Array(count);
  for (let i = 0; i < count; i++) {
    const claims = { htm: PROBE.method, htu: HTU, iat, jti: `${series}-${i}`, ath };
    const input = `${header}.${b64u(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    proofs[i] = `${input}.${b64u(signature)}`;
  }
  return proofs;
}

/** The check request the gateway sends for the probe with `Authorization: DPoP` and a proof. */
function dpopPayload(token, proof) {
  const headers = { dpop: proof, host: 'fhir.example.com' };
  return checkMessage(`DPoP ${token}`, PROBE, { headers, scheme: 'https', origin: ORIGIN });
}

/** Allowed, and allowed as a DPoP-bound token (a run where the binding was skipped means nothing). */
function expectDpopAllowed(msg) {
  const problem = expectAllowed(msg);
  if (problem) return problem;
  return msg.json().identity?.binding === 'dpop' ? undefined : 'allowed without the DPoP binding';
}

/** One proof accepted, the same proof refused as a replay: the scenario measures what it claims. */
async function smoke(nc, token, key) {
  const [proof] = mintProofs(key, token, 1, `smoke-${randomBytes(6).toString('hex')}`);
  const payload = dpopPayload(token, proof);
  const first = await nc.request(SUBJECTS.check, payload, { timeout: 5000 });
  const problem = expectDpopAllowed(first);
  if (problem) throw new Error(`dpop_unique: a fresh proof is not allowed (${problem})`);
  const replay = (await nc.request(SUBJECTS.check, payload, { timeout: 5000 })).json();
  if (replay.status !== 401)
    throw new Error(`dpop_unique: a replayed proof answered ${replay.status}, not 401`);
}

/** µs per verifyDpopProof (signature, claims, thumbprint) in this process, after a warm-up. */
async function proofVerifyMicros(key, token, count) {
  const proofs = mintProofs(key, token, count + 1000, `inproc-${randomBytes(6).toString('hex')}`);
  const request = { method: PROBE.method, url: HTU, accessToken: token, now: Date.now() };
  for (const proof of proofs.slice(0, 1000)) await verifyDpopProof(proof, request);
  const started = performance.now();
  for (const proof of proofs.slice(1000)) await verifyDpopProof(proof, request);
  return Math.round(((performance.now() - started) * 1000 * 10) / count) / 10;
}

/** dpop_unique, when wanted: rounds of fresh proofs over NATS, then the in-process cost. */
export async function dpopScenario(b) {
  if (!b.opts.want('dpop_unique')) return;
  const { nc, workers, nats } = b.cluster;
  const { warmup, requests, rounds } = b.opts.sizes;
  const key = dpopKey();
  const token = mintJwt('HS256', b.keys.hsSecret, { ...claimsFor(ISS.hs, 'dpop', 0), cnf: { jkt: key.jkt } });
  await smoke(nc, token, key);
  b.measurements.dpop_unique ??= new Measurement('dpop_unique');
  const into = b.measurements.dpop_unique;
  const run = randomBytes(6).toString('hex');
  const roles = {
    client: [process.pid],
    'nats-server': [nats.proc.pid],
    responders: workers.map((w) => w.pid),
  };
  const cpuNow = () => Object.values(roles).map((pids) => pids.reduce((sum, pid) => sum + cpuMicros(pid), 0));
  const count = Math.ceil(requests / rounds);
  for (let round = 0; round < rounds; round++) {
    // Minted per round (iat must stay within 60 s of the check), outside the measured window.
    const proofs = mintProofs(key, token, (round === 0 ? warmup : 0) + count, `${run}-${round}`);
    const payloads = proofs.map((proof) => dpopPayload(token, proof));
    const warm = round === 0 ? payloads.slice(0, warmup) : [];
    const before = cpuNow();
    await natsLoad(nc, SUBJECTS.check, {
      warmup: warm,
      measured: payloads.slice(warm.length),
      concurrency: b.opts.concurrency,
      validate: expectDpopAllowed,
      into,
    });
    const after = cpuNow();
    for (const [i, role] of Object.keys(roles).entries()) into.addCpu(role, after[i] - before[i]);
  }
  into.extra.proof_verify_us = await proofVerifyMicros(key, token, b.opts.quick ? 2000 : 10_000);
  const r = into.result();
  const failed = r.failures ? `, ${r.failures} FAILED: ${r.firstFailure}` : '';
  b.log(
    `dpop_unique: ${r.rps} rps, p50 ${r.p50_us} µs, p99 ${r.p99_us} µs${failed}; in-process proof verification ${r.proof_verify_us} µs`,
  );
}
