import { type DecisionEvent, hashToken, subjects } from '@authz/protocol';
import {
  freePort,
  type IntrospectionServer,
  mintJwt,
  type ServiceProcess,
  startCluster,
  startIntrospectionServer,
  startService,
  type TestCluster,
} from '@authz/test-support';
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { exportJWK, type JWTHeaderParameters, generateKeyPair as joseKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExtAuthzClient, extAuthzClient } from './support/envoy.js';

// DPoP (RFC 9449) end to end: proofs made by panva's `dpop` client package (jose for the proofs
// no honest client makes), sent through a real gateway to two real workers sharing Redis.

const ISSUER = 'https://dpop-idp.test';
const STRICT_ISSUER = 'https://strict-idp.test';
const SECRET = 'dpop-test-secret';
const OPAQUE = 'opaque-dpop-bound-token';

const mint = (claims: Record<string, unknown>, iss = ISSUER) =>
  mintJwt({ key: SECRET, alg: 'HS256', claims: { iss, sub: 'some-user-id', ...claims } });

interface Sent {
  status: number;
  challenge: string | null;
  body: { identity?: { binding?: string }; issue?: Array<{ diagnostics: string }> };
}

async function send(url: string, headers: Record<string, string>, method = 'GET'): Promise<Sent> {
  const res = await fetch(url, { method, headers });
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    body: (await res.json()) as Sent['body'],
  };
}

const dpopChallenge = (error: string) =>
  expect.stringMatching(
    new RegExp(`^DPoP realm="authz", algs="ES256 [^"]*", error="${error}", error_description="`),
  );

describe('DPoP-bound tokens through the gateway (real cluster, two workers, Redis)', () => {
  let cluster: TestCluster;
  let introspection: IntrospectionServer;
  let publicGateway: ServiceProcess;
  let publicBase: string;
  let grpc: ExtAuthzClient;
  let publicGrpc: ExtAuthzClient;
  let keys: KeyPair;
  let jkt: string;
  let bound: string;
  let url: string;
  const events: DecisionEvent[] = [];

  beforeAll(async () => {
    keys = await generateKeyPair('ES256');
    jkt = await calculateThumbprint(keys.publicKey);
    introspection = await startIntrospectionServer({
      tokens: { [OPAQUE]: { active: true, sub: 'some-user-id', cnf: { jkt } } },
    });
    const grpcPort = await freePort();
    cluster = await startCluster({ workers: 2, gatewayEnv: { GATEWAY_GRPC_PORT: String(grpcPort) } });
    grpc = extAuthzClient(`127.0.0.1:${grpcPort}`);
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/idp',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: ISSUER, secret: SECRET } },
      ],
      [
        '/TokenIntrospector/strict',
        {
          resourceType: 'TokenIntrospector',
          type: 'jwt',
          dpop: 'required',
          jwt: { iss: STRICT_ISSUER, secret: SECRET },
        },
      ],
      [
        '/TokenIntrospector/opaque',
        {
          resourceType: 'TokenIntrospector',
          type: 'opaque',
          introspection_endpoint: { url: introspection.url },
        },
      ],
      [
        '/AccessPolicy/authenticated-reads',
        {
          resourceType: 'AccessPolicy',
          engine: 'matcho',
          matcho: { 'request-method': 'get', user: { id: 'present?' } },
        },
      ],
    ];
    for (const [path, body] of puts) {
      const res = await cluster.admin('PUT', path, body);
      expect(res.status, `${path}: ${await res.clone().text()}`).toBe(201);
    }
    expect((await cluster.admin('PUT', '/User/some-user-id', { resourceType: 'User' })).status).toBe(201);

    const [port, publicGrpcPort] = [await freePort(), await freePort()];
    publicGateway = await startService('gateway', {
      ...cluster.env,
      GATEWAY_PORT: String(port),
      GATEWAY_GRPC_PORT: String(publicGrpcPort),
      GATEWAY_PUBLIC_URL: 'https://api.example.com',
    });
    publicBase = `http://127.0.0.1:${port}`;
    publicGrpc = extAuthzClient(`127.0.0.1:${publicGrpcPort}`);

    cluster.nc.subscribe(subjects().decisions, {
      callback: (_err, msg) => {
        events.push(msg.json<DecisionEvent>());
      },
    });
    bound = await mint({ cnf: { jkt } });
    url = `${cluster.gatewayUrl}/fhir/Patient`;
    // Both workers apply the configuration from their KV watch; wait until decisions use it.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const plain = await mint({});
      const results = await Promise.all(
        [0, 1, 2, 3].map(() => send(url, { authorization: `Bearer ${plain}` }).then((r) => r.status)),
      );
      if (results.every((s) => s === 200)) break;
      if (Date.now() > deadline) throw new Error(`configuration never reached the workers: ${results}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);

  afterAll(async () => {
    grpc?.close();
    publicGrpc?.close();
    await publicGateway?.stop('SIGKILL');
    await cluster?.stop();
    await introspection?.stop();
  });

  const dpop = async (token: string, proof: string) => ({ authorization: `DPoP ${token}`, dpop: proof });

  it('allows a bound token with a fresh proof by its key, and names the binding', async () => {
    const proof = await generateProof(keys, url, 'GET', undefined, bound);
    const sent = await send(url, await dpop(bound, proof));
    expect(sent.status).toBe(200);
    expect(sent.body.identity?.binding).toBe('dpop');
  });

  it('refuses the same proof twice, whichever worker gets it, and never publishes the proof', async () => {
    const proof = await generateProof(keys, url, 'GET', undefined, bound);
    expect((await send(url, await dpop(bound, proof))).status).toBe(200);
    // Replays in batches until both workers of the queue group have refused one (NATS picks the
    // responder; every replay must be refused whichever it is).
    const workersRefusing = () =>
      new Set(
        events.filter((e) => e.status === 401 && e.reason.includes('already used')).map((e) => e.worker),
      );
    for (let batch = 0; batch < 10 && workersRefusing().size < 2; batch++) {
      const replays = await Promise.all(
        Array.from({ length: 10 }, async () => send(url, await dpop(bound, proof))),
      );
      for (const replay of replays) {
        expect(replay.status).toBe(401);
        expect(replay.challenge).toEqual(dpopChallenge('invalid_dpop_proof'));
        expect(replay.body.issue?.[0]?.diagnostics).toMatch(/already used/);
      }
      await new Promise((r) => setTimeout(r, 200)); // decision events are fire-and-forget
    }
    expect(workersRefusing().size).toBe(2);
    expect(JSON.stringify(events)).not.toContain(proof.split('.')[2]);
    expect(JSON.stringify(events)).not.toContain(bound);
  });

  const wrong: Array<[string, () => Promise<Record<string, string>>, string]> = [
    [
      'a proof for another method',
      async () => dpop(bound, await generateProof(keys, url, 'POST', undefined, bound)),
      'htm is "POST"',
    ],
    [
      'a proof for another URL',
      async () => dpop(bound, await generateProof(keys, `${url}/1`, 'GET', undefined, bound)),
      'htu is',
    ],
    [
      'a stale proof',
      async () => dpop(bound, await skewed(-90, () => generateProof(keys, url, 'GET', undefined, bound))),
      's ago',
    ],
    [
      'a proof for another token',
      async () => dpop(bound, await generateProof(keys, url, 'GET', undefined, 'some-other-token')),
      'ath',
    ],
    [
      'a proof by a key the token is not bound to',
      async () =>
        dpop(bound, await generateProof(await generateKeyPair('ES256'), url, 'GET', undefined, bound)),
      'signed by a key other than',
    ],
    ['an HS256 proof', async () => dpop(bound, await hs256Proof(url, bound)), 'asymmetric algorithm'],
    [
      'a proof carrying a private jwk',
      async () => dpop(bound, await privateJwkProof(url, bound)),
      'private or symmetric key',
    ],
    ['no proof at all', async () => ({ authorization: `DPoP ${bound}` }), 'carries no DPoP proof'],
  ];

  it.each(wrong)('refuses %s with invalid_dpop_proof', async (_name, headers, reason) => {
    const sent = await send(url, await headers());
    expect(sent.status).toBe(401);
    expect(sent.challenge).toEqual(dpopChallenge('invalid_dpop_proof'));
    expect(sent.body.issue?.[0]?.diagnostics).toContain(reason);
  });

  it('refuses a DPoP-bound token presented as Bearer, with a DPoP challenge', async () => {
    const sent = await send(url, { authorization: `Bearer ${bound}` });
    expect(sent.status).toBe(401);
    expect(sent.challenge).toEqual(dpopChallenge('invalid_token'));
    expect(sent.body.issue?.[0]?.diagnostics).toMatch(
      /bound to a DPoP key \(cnf.jkt\) and was presented as a Bearer token/,
    );
  });

  it('refuses an unbound token of a dpop: required introspector, as Bearer and as DPoP', async () => {
    const unbound = await mint({}, STRICT_ISSUER);
    const asBearer = await send(url, { authorization: `Bearer ${unbound}` });
    expect(asBearer.status).toBe(401);
    expect(asBearer.challenge).toEqual(dpopChallenge('invalid_token'));
    expect(asBearer.body.issue?.[0]?.diagnostics).toContain('TokenIntrospector/strict requires DPoP');
    const asDpop = await send(
      url,
      await dpop(unbound, await generateProof(keys, url, 'GET', undefined, unbound)),
    );
    expect(asDpop.status).toBe(401);
    expect(asDpop.body.issue?.[0]?.diagnostics).toContain('not bound to a key');
    const strictBound = await mint({ cnf: { jkt } }, STRICT_ISSUER);
    const ok = await send(
      url,
      await dpop(strictBound, await generateProof(keys, url, 'GET', undefined, strictBound)),
    );
    expect(ok.status).toBe(200);
  });

  it('binds an opaque token through cnf.jkt of its introspection response', async () => {
    const ok = await send(url, await dpop(OPAQUE, await generateProof(keys, url, 'GET', undefined, OPAQUE)));
    expect(ok.status).toBe(200);
    expect(ok.body.identity?.binding).toBe('dpop');
    const asBearer = await send(url, { authorization: `Bearer ${OPAQUE}` });
    expect(asBearer.status).toBe(401);
    const otherKey = await generateProof(await generateKeyPair('ES256'), url, 'GET', undefined, OPAQUE);
    expect((await send(url, await dpop(OPAQUE, otherKey))).status).toBe(401);
  });

  it('checks htu against GATEWAY_PUBLIC_URL when the gateway has one', async () => {
    const path = '/fhir/Patient';
    const publicProof = await generateProof(keys, `https://api.example.com${path}`, 'GET', undefined, bound);
    expect((await send(publicBase + path, await dpop(bound, publicProof))).status).toBe(200);
    const localProof = await generateProof(keys, publicBase + path, 'GET', undefined, bound);
    const sent = await send(publicBase + path, await dpop(bound, localProof));
    expect(sent.status).toBe(401);
    expect(sent.body.issue?.[0]?.diagnostics).toContain(
      'request was made to https://api.example.com/fhir/Patient',
    );
  });

  /** Envoy's ext_authz CheckRequest for `GET https://fhir.example.com/fhir/Patient?_count=1`. */
  const envoyCheck = (headers: Record<string, string>) => ({
    attributes: {
      source: { address: { socket_address: { address: '203.0.113.9', port_value: 50_000 } } },
      request: {
        http: {
          method: 'GET',
          scheme: 'https',
          host: 'fhir.example.com',
          path: '/fhir/Patient?_count=1',
          protocol: 'HTTP/1.1',
          headers,
        },
      },
    },
  });
  const challengeOf = (res: Awaited<ReturnType<ExtAuthzClient['check']>>) =>
    res.denied_response?.headers.find((h) => h.header.key === 'www-authenticate')?.header.value;

  it("ext_authz gRPC: htu is Envoy's scheme and host; a proof for any other URL is refused", async () => {
    const envoyUrl = 'https://fhir.example.com/fhir/Patient';
    const ok = await grpc.check(
      envoyCheck({
        ...(await dpop(bound, await generateProof(keys, envoyUrl, 'GET', undefined, bound))),
        // Client-sent: Envoy does not vouch for it, so it never moves the htu.
        'x-forwarded-host': 'evil.example',
      }),
    );
    expect(ok.status?.code).toBe(0);
    const evil = 'https://evil.example/fhir/Patient';
    for (const htu of ['http://fhir.example.com/fhir/Patient', evil]) {
      const refused = await grpc.check(
        envoyCheck({
          ...(await dpop(bound, await generateProof(keys, htu, 'GET', undefined, bound))),
          'x-forwarded-host': 'evil.example',
        }),
      );
      expect(refused.status?.code, htu).toBe(16);
      expect(refused.denied_response?.status.code).toBe('Unauthorized');
      expect(challengeOf(refused)).toEqual(dpopChallenge('invalid_dpop_proof'));
      expect(refused.denied_response?.body).toContain(`request was made to ${envoyUrl}`);
    }
  });

  it('ext_authz gRPC and Envoy HTTP: htu is GATEWAY_PUBLIC_URL when the gateway has one', async () => {
    const publicUrl = 'https://api.example.com/fhir/Patient';
    const proof = await generateProof(keys, publicUrl, 'GET', undefined, bound);
    expect((await publicGrpc.check(envoyCheck(await dpop(bound, proof)))).status?.code).toBe(0);
    const envoyProof = await generateProof(
      keys,
      'https://fhir.example.com/fhir/Patient',
      'GET',
      undefined,
      bound,
    );
    const refused = await publicGrpc.check(envoyCheck(await dpop(bound, envoyProof)));
    expect(refused.status?.code).toBe(16);
    expect(challengeOf(refused)).toEqual(dpopChallenge('invalid_dpop_proof'));
    expect(refused.denied_response?.body).toContain(`request was made to ${publicUrl}`);
    // Envoy's HTTP ext_authz entry (path_prefix /_authz/envoy) builds the same htu.
    const viaHttp = await fetch(`${publicBase}/_authz/envoy/fhir/Patient?_count=1`, {
      headers: await dpop(bound, await generateProof(keys, publicUrl, 'GET', undefined, bound)),
    });
    expect(viaHttp.status).toBe(200);
  });
});

/** Runs `make` as a client whose clock is `seconds` off. */
async function skewed<T>(seconds: number, make: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => realNow() + seconds * 1000;
  try {
    return await make();
  } finally {
    Date.now = realNow;
  }
}

async function hs256Proof(htu: string, token: string): Promise<string> {
  return (
    new SignJWT({ htm: 'GET', htu, jti: crypto.randomUUID(), ath: hashToken(token) })
      // A symmetric key in the header is what this case sends; jose's types rightly refuse it.
      .setProtectedHeader({
        alg: 'HS256',
        typ: 'dpop+jwt',
        jwk: { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' },
      } as JWTHeaderParameters)
      .setIssuedAt()
      .sign(new TextEncoder().encode('secret-secret-secret-secret'))
  );
}

async function privateJwkProof(htu: string, token: string): Promise<string> {
  const pair = await joseKeyPair('ES256', { extractable: true });
  return new SignJWT({ htm: 'GET', htu, jti: crypto.randomUUID(), ath: hashToken(token) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(pair.privateKey) })
    .setIssuedAt()
    .sign(pair.privateKey);
}
