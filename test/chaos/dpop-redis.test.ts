import { mintJwt, startCluster, type TestCluster } from '@authz/test-support';
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from './load.js';

// DPoP under load while Redis — the cluster's one memory of used proof ids — goes away and comes
// back empty (no persistence). The documented behaviour (README "Sender-constrained tokens"):
// DPoP answers 503 while Redis is down and, once it is back without its data, refuses every
// proof that could have been used before (one proof window); Bearer requests never notice.
// Throughout, not one replayed proof is accepted.

const ISSUER = 'https://chaos-dpop.test';
const SECRET = 'chaos-dpop-secret';

/** `shift`: the phase changed while the request was in flight (counted only for replays). */
type Phase = 'before' | 'down' | 'back' | 'shift';
interface Outcome {
  phase: Phase;
  kind: 'fresh' | 'replay' | 'bearer';
  status: number;
  reason: string;
}

describe('chaos: Redis stopped during DPoP load (2 workers)', () => {
  let cluster: TestCluster;
  let keys: KeyPair;
  let bound: string;
  let plain: string;
  let url: string;

  beforeAll(async () => {
    // The fault here is Redis stopped, not Redis slow: deadlines (the replay claim's, the caches')
    // that a loaded 2-core box cannot trip keep the before/after phases about the outage alone.
    // Likewise the gateway's check deadline: a 503 here must be the replay store's, not a timeout.
    cluster = await startCluster({
      workers: 2,
      env: { REDIS_COMMAND_TIMEOUT_MS: '1000', DPOP_REPLAY_TIMEOUT_MS: '1000' },
      gatewayEnv: { GATEWAY_CHECK_TIMEOUT_MS: '10000' },
    });
    keys = await generateKeyPair('ES256');
    const jkt = await calculateThumbprint(keys.publicKey);
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/idp',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: ISSUER, secret: SECRET } },
      ],
      [
        '/AccessPolicy/issuer',
        { resourceType: 'AccessPolicy', engine: 'matcho', matcho: { jwt: { iss: ISSUER } } },
      ],
    ];
    for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);
    const claims = { iss: ISSUER, sub: 'u1', exp: Math.floor(Date.now() / 1000) + 600 };
    bound = await mintJwt({ key: SECRET, alg: 'HS256', claims: { ...claims, cnf: { jkt } } });
    plain = await mintJwt({ key: SECRET, alg: 'HS256', claims });
    url = `${cluster.gatewayUrl}/fhir/Patient`;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const statuses = await Promise.all([0, 1, 2, 3].map(() => bearerStatus()));
      if (statuses.every((s) => s === 200)) break;
      if (Date.now() > deadline) throw new Error(`configuration never reached the workers: ${statuses}`);
      await sleep(50);
    }
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const bearerStatus = async () =>
    (await fetch(url, { headers: { authorization: `Bearer ${plain}` } })).status;
  async function sendProof(proof: string): Promise<{ status: number; reason: string }> {
    const res = await fetch(url, { headers: { authorization: `DPoP ${bound}`, dpop: proof } });
    const body = (await res.json()) as { issue?: Array<{ diagnostics: string }>; reason?: string };
    return { status: res.status, reason: body.issue?.[0]?.diagnostics ?? body.reason ?? '' };
  }

  it('accepts no replay: 503 while Redis is down, 503 for proofs from before its data was lost, Bearer unaffected', async () => {
    const outcomes: Outcome[] = [];
    let phase: Phase = 'before';
    /** Runs `send`, labelled with the phase it ran in from start to end. */
    const timed = async <T>(send: () => Promise<T>): Promise<{ phase: Phase; result: T }> => {
      const started = phase;
      const result = await send();
      return { phase: started === phase ? started : 'shift', result };
    };
    let running = true;
    const usedBefore: string[] = [];
    const loop = async () => {
      while (running) {
        const proof = await generateProof(keys, url, 'GET', undefined, bound);
        const fresh = await timed(() => sendProof(proof));
        outcomes.push({ phase: fresh.phase, kind: 'fresh', ...fresh.result });
        if (fresh.phase === 'before' && fresh.result.status === 200) usedBefore.push(proof);
        // Replay the proof just sent, and one used before Redis went away.
        const replay = await timed(() => sendProof(proof));
        outcomes.push({ phase: replay.phase, kind: 'replay', ...replay.result });
        const old = usedBefore[Math.floor(Math.random() * usedBefore.length)];
        if (old !== undefined && phase !== 'before') {
          const again = await timed(() => sendProof(old));
          outcomes.push({ phase: again.phase, kind: 'replay', ...again.result });
        }
        const plainRequest = await timed(bearerStatus);
        outcomes.push({ phase: plainRequest.phase, kind: 'bearer', status: plainRequest.result, reason: '' });
      }
    };
    const loops = [loop(), loop(), loop()];
    await sleep(2500);
    // While Redis is being stopped a request may see it either way: neither 'before' nor 'down'.
    phase = 'shift';
    await cluster.redis.stop();
    phase = 'down';
    await sleep(4000);
    await cluster.redis.start();
    // ioredis reconnects with backoff (≤ 2 s): 'back' starts once a worker answers from Redis again.
    const deadline = Date.now() + 10_000;
    while (
      !(await sendProof(await generateProof(keys, url, 'GET', undefined, bound))).reason.includes(
        'lost its memory',
      )
    ) {
      if (Date.now() > deadline) throw new Error('the workers never reconnected to Redis');
      await sleep(100);
    }
    await sleep(500);
    phase = 'back';
    await sleep(3000);
    running = false;
    await Promise.all(loops);

    const count = (p: Phase, kind: Outcome['kind'], status?: number) =>
      outcomes.filter(
        (o) => o.phase === p && o.kind === kind && (status === undefined || o.status === status),
      ).length;
    const summary = (['before', 'down', 'back'] as const).map(
      (p) =>
        `${p}: fresh ${count(p, 'fresh', 200)}/${count(p, 'fresh')} ok, replays ok ${count(p, 'replay', 200)}/${count(p, 'replay')}, bearer ok ${count(p, 'bearer', 200)}/${count(p, 'bearer')}`,
    );
    console.log(`chaos[dpop redis] ${summary.join(' | ')}`);

    // Not one replay accepted, in any phase.
    expect(outcomes.filter((o) => o.kind === 'replay' && o.status === 200)).toEqual([]);
    expect(count('before', 'fresh')).toBeGreaterThan(5);
    const beforeRefused = outcomes.filter(
      (o) => o.phase === 'before' && o.kind === 'fresh' && o.status !== 200,
    );
    expect(beforeRefused).toEqual([]);
    // Redis down: every DPoP request 503 (never 200), with the reason; Bearer goes on.
    for (const o of outcomes.filter((x) => x.phase === 'down' && x.kind !== 'bearer')) {
      expect(o.status, o.reason).toBe(503);
    }
    expect(count('down', 'bearer', 200)).toBe(count('down', 'bearer'));
    // Redis back without its data: proofs that could predate the loss are refused with that reason.
    const back = outcomes.filter((x) => x.phase === 'back' && x.kind !== 'bearer');
    expect(back.length).toBeGreaterThan(5);
    for (const o of back) {
      expect(o.status).toBe(503);
      expect(o.reason).toContain('lost its memory of used proofs');
    }
    expect(count('back', 'bearer', 200)).toBe(count('back', 'bearer'));

    // A proof issued a full window after the loss cannot have been used before it: accepted once.
    const later = await withClockAhead(59, () => generateProof(keys, url, 'GET', undefined, bound));
    expect((await sendProof(later)).status).toBe(200);
    expect((await sendProof(later)).status).toBe(401);
  }, 60_000);
});

/** A proof from a client whose clock runs `seconds` ahead (still inside the ±60 s acceptance). */
async function withClockAhead<T>(seconds: number, make: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => realNow() + seconds * 1000;
  try {
    return await make();
  } finally {
    Date.now = realNow;
  }
}
