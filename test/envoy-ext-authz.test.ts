import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METHOD_OVERRIDE_HEADERS, TARGET_OVERRIDE_HEADERS } from '@authz/protocol';
import {
  freePort,
  mintJwt,
  type ServiceProcess,
  startCluster,
  startService,
  type TestCluster,
} from '@authz/test-support';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWire, type ExtAuthzClient, extAuthzClient, WireWriter } from './support/envoy.js';

// Envoy's ext_authz, gRPC and HTTP, against a real gateway, NATS, Redis and worker. There is no
// Envoy binary in the machine's package registries, so the gRPC side is driven by a client built
// from the same protos and, byte for byte, by messages encoded with Envoy's published field numbers.

const ISSUER = 'https://idp.envoy.test';
const SECRET = 'envoy-test-secret';
const mint = (claims: Record<string, unknown>) =>
  mintJwt({ key: SECRET, alg: 'HS256', claims: { iss: ISSUER, ...claims } });

/** An ext_authz AttributeContext for one HTTP request, the way Envoy fills it. */
function attributes(http: Record<string, unknown>, source = '203.0.113.9') {
  return {
    attributes: {
      source: { address: { socket_address: { address: source, port_value: 50_000 } } },
      request: { http: { scheme: 'https', host: 'fhir.example.com', protocol: 'HTTP/1.1', ...http } },
    },
  };
}

/**
 * An HTTP request sent as written: fetch would drop a Host header and resolve dot-segments,
 * which is exactly what these tests must control.
 */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(url);
  const path = url.slice(url.indexOf('/', 'http://'.length));
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const headerMap = (headers: Array<{ header: { key: string; value: string } }> | undefined) =>
  Object.fromEntries((headers ?? []).map((h) => [h.header.key, h.header.value]));

describe('Envoy ext_authz (gRPC and HTTP) against a real cluster', () => {
  let cluster: TestCluster;
  let grpc: ExtAuthzClient;
  let grpcAddress: string;
  let dir: string;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'authz-envoy-'));
    const keyFile = join(dir, 'assertion.pem');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const grpcPort = await freePort();
    cluster = await startCluster({
      workers: 1,
      gatewayEnv: {
        GATEWAY_GRPC_PORT: String(grpcPort),
        GATEWAY_ASSERTION_KEY_FILE: keyFile,
        GATEWAY_ASSERTION_AUDIENCE: 'https://fhir.example.com',
      },
    });
    grpcAddress = `127.0.0.1:${grpcPort}`;
    grpc = extAuthzClient(grpcAddress);
    const puts: Array<[string, unknown]> = [
      [
        '/TokenIntrospector/idp',
        { resourceType: 'TokenIntrospector', type: 'jwt', jwt: { iss: ISSUER, secret: SECRET } },
      ],
      [
        '/AccessPolicy/alice-reads',
        {
          resourceType: 'AccessPolicy',
          engine: 'json-schema',
          schema: {
            required: ['jwt', 'request-method'],
            properties: {
              jwt: { required: ['sub'], properties: { sub: { const: 'alice' } } },
              'request-method': { const: 'get' },
            },
          },
        },
      ],
      // A body policy: alice may create final Observations only.
      [
        '/AccessPolicy/alice-final-observations',
        {
          resourceType: 'AccessPolicy',
          engine: 'json-schema',
          schema: {
            required: ['jwt', 'request-method', 'uri', 'body'],
            properties: {
              jwt: { required: ['sub'], properties: { sub: { const: 'alice' } } },
              'request-method': { const: 'post' },
              uri: { const: '/fhir/Observation' },
              body: { required: ['status'], properties: { status: { const: 'final' } } },
            },
          },
        },
      ],
    ];
    for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);
    alice = await mint({ sub: 'alice', client_id: 'envoy-app' });
    bob = await mint({ sub: 'bob' });
    const deadline = Date.now() + 10_000;
    while (
      (
        await grpc.check(
          attributes({ method: 'GET', path: '/fhir/Patient', headers: { authorization: `Bearer ${alice}` } }),
        )
      ).status?.code !== 0
    ) {
      if (Date.now() > deadline) throw new Error('the configuration never reached the worker');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    grpc?.close();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gRPC: allows with identity headers set by overwrite and removes client-sent identity-like headers', async () => {
    const res = await grpc.check(
      attributes({
        method: 'GET',
        path: '/fhir/Patient?name=smith',
        headers: {
          ':authority': 'fhir.example.com',
          ':path': '/fhir/Patient?name=smith',
          authorization: `Bearer ${alice}`,
          'x-authz-user': 'root',
          x_authz_policy: 'forged',
          'x-authz-role': 'admin',
        },
      }),
    );
    expect(res.status).toMatchObject({ code: 0 });
    expect(res.http_response).toBe('ok_response');
    const set = headerMap(res.ok_response!.headers);
    expect(set['x-authz-user']).toBe('alice');
    expect(set['x-authz-subject']).toBe('alice');
    expect(set['x-authz-policy']).toBe('alice-reads');
    for (const h of res.ok_response!.headers) {
      expect(h.append).toEqual({ value: false });
      expect(h.append_action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
    }
    // x-authz-user is overwritten by the answer, so it must not be removed after being set.
    // The method-override headers are always removed: Envoy's allowed_headers may hide them.
    expect(res.ok_response!.headers_to_remove.sort()).toEqual(
      ['x-authz-role', 'x_authz_policy', ...METHOD_OVERRIDE_HEADERS, ...TARGET_OVERRIDE_HEADERS].sort(),
    );

    const assertion = set['x-authz-assertion']!;
    const jwks = createRemoteJWKSet(new URL(`${cluster.gatewayUrl}/_authz/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(assertion, jwks, {
      issuer: 'authz',
      audience: 'https://fhir.example.com',
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({
      sub: 'alice',
      htm: 'GET',
      htu: 'https://fhir.example.com/fhir/Patient',
      authz: { policy: 'alice-reads', introspector: 'idp', client: 'envoy-app' },
    });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gRPC: 401 is UNAUTHENTICATED with WWW-Authenticate and an OperationOutcome body', async () => {
    const res = await grpc.check(attributes({ method: 'GET', path: '/fhir/Patient', headers: {} }));
    expect(res.status!.code).toBe(16);
    expect(res.denied_response!.status.code).toBe('Unauthorized');
    const headers = headerMap(res.denied_response!.headers);
    expect(headers['www-authenticate']).toMatch(/^Bearer realm="authz", error="invalid_token"/);
    expect(headers['content-type']).toBe('application/fhir+json');
    const body = JSON.parse(res.denied_response!.body) as {
      resourceType: string;
      issue: Array<{ code: string }>;
    };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]!.code).toBe('login');
  });

  it('gRPC: 403 is PERMISSION_DENIED with code forbidden', async () => {
    const res = await grpc.check(
      attributes({ method: 'GET', path: '/fhir/Patient', headers: { authorization: `Bearer ${bob}` } }),
    );
    expect(res.status!.code).toBe(7);
    expect(res.denied_response!.status.code).toBe('Forbidden');
    expect((JSON.parse(res.denied_response!.body) as { issue: Array<{ code: string }> }).issue[0]!.code).toBe(
      'forbidden',
    );
  });

  it.each([
    ['/fhir/../admin', 'dot-segment'],
    ['/fhir/Patient%2F1', 'encoded slash'],
    ['http://evil.example/fhir/Patient', 'not origin-form'],
    ['/fhir//Patient', 'empty segment'],
  ])(
    'gRPC: a malformed target %s is a 400 denial (PERMISSION_DENIED), never asked of a policy',
    async (path, words) => {
      const res = await grpc.check(
        attributes({ method: 'GET', path, headers: { authorization: `Bearer ${alice}` } }),
      );
      expect(res.status!.code).toBe(7);
      expect(res.denied_response!.status.code).toBe('BadRequest');
      expect(res.status!.message).toContain(words);
    },
  );

  it('gRPC: a body under a body policy — raw_body and body both reach the policy', async () => {
    const post = (body: Record<string, unknown>, asBytes: boolean) =>
      grpc.check(
        attributes({
          method: 'POST',
          path: '/fhir/Observation',
          // Envoy marks every body it sends: whole (false) or cut at max_request_bytes (true).
          headers: {
            authorization: `Bearer ${alice}`,
            'content-type': 'application/fhir+json',
            'x-envoy-auth-partial-body': 'false',
          },
          ...(asBytes ? { raw_body: Buffer.from(JSON.stringify(body)) } : { body: JSON.stringify(body) }),
        }),
      );
    expect((await post({ resourceType: 'Observation', status: 'final' }, true)).status!.code).toBe(0);
    expect((await post({ resourceType: 'Observation', status: 'final' }, false)).status!.code).toBe(0);
    expect((await post({ resourceType: 'Observation', status: 'draft' }, true)).status!.code).toBe(7);
    // Not sent at all (no with_request_body): the body policy cannot allow.
    const unsent = await grpc.check(
      attributes({
        method: 'POST',
        path: '/fhir/Observation',
        headers: { authorization: `Bearer ${alice}` },
      }),
    );
    expect(unsent.status!.code).toBe(7);
    const malformed = await grpc.check(
      attributes({
        method: 'POST',
        path: '/fhir/Observation',
        headers: {
          authorization: `Bearer ${alice}`,
          'content-type': 'application/json',
          'x-envoy-auth-partial-body': 'false',
        },
        body: '{"status": "final"',
      }),
    );
    expect(malformed.denied_response!.status.code).toBe('BadRequest');
  });

  it('gRPC wire format: a CheckRequest hand-encoded with Envoy field numbers gets an answer with Envoy field numbers', async () => {
    const w = WireWriter.create();
    w.uint32((1 << 3) | 2).fork(); // CheckRequest.attributes = 1
    w.uint32((1 << 3) | 2).fork(); // AttributeContext.source = 1
    w.uint32((1 << 3) | 2).fork(); // Peer.address = 1
    w.uint32((1 << 3) | 2).fork(); // Address.socket_address = 1
    w.uint32((2 << 3) | 2).string('198.51.100.7'); // SocketAddress.address = 2
    w.uint32((3 << 3) | 0).uint32(443); // SocketAddress.port_value = 3
    w.ldelim().ldelim().ldelim();
    w.uint32((4 << 3) | 2).fork(); // AttributeContext.request = 4
    w.uint32((2 << 3) | 2).fork(); // Request.http = 2
    w.uint32((2 << 3) | 2).string('GET'); // HttpRequest.method = 2
    for (const [key, value] of [
      ['authorization', `Bearer ${alice}`],
      ['x-authz-evil', 'yes'],
    ]) {
      w.uint32((3 << 3) | 2).fork(); // HttpRequest.headers = 3 (map entry)
      w.uint32((1 << 3) | 2)
        .string(key!)
        .uint32((2 << 3) | 2)
        .string(value!);
      w.ldelim();
    }
    w.uint32((4 << 3) | 2).string('/fhir/Patient/1'); // HttpRequest.path = 4
    w.uint32((5 << 3) | 2).string('fhir.example.com'); // HttpRequest.host = 5
    w.uint32((6 << 3) | 2).string('https'); // HttpRequest.scheme = 6
    w.ldelim().ldelim().ldelim();

    const answer = decodeWire(await grpc.checkRaw(w.finish()));
    // CheckResponse.status = 1 (google.rpc.Status): code 0, written or left as the proto3 default.
    const status = decodeWire(answer.get(1)![0] as Buffer);
    expect(status.get(1) ?? [0]).toEqual([0]);
    expect(answer.get(2)).toBeUndefined(); // no denied_response
    const ok = decodeWire(answer.get(3)![0] as Buffer); // ok_response = 3
    const options = (ok.get(2) as Buffer[]).map(decodeWire); // OkHttpResponse.headers = 2
    const byKey = new Map(
      options.map((o) => {
        const header = decodeWire(o.get(1)![0] as Buffer); // HeaderValueOption.header = 1
        return [
          (header.get(1)![0] as Buffer).toString(),
          { o, value: (header.get(2)![0] as Buffer).toString() },
        ];
      }),
    );
    expect(byKey.get('x-authz-user')!.value).toBe('alice');
    expect(byKey.get('x-authz-policy')!.value).toBe('alice-reads');
    for (const { o } of byKey.values()) {
      // append = 2: a BoolValue present, its value (field 1) false whether written or defaulted.
      expect(decodeWire(o.get(2)![0] as Buffer).get(1) ?? [0]).toEqual([0]);
      expect(o.get(3)).toEqual([2]); // append_action = 3: OVERWRITE_IF_EXISTS_OR_ADD
    }
    // headers_to_remove = 5
    expect((ok.get(5) as Buffer[]).map(String)).toEqual([
      'x-authz-evil',
      ...METHOD_OVERRIDE_HEADERS,
      ...TARGET_OVERRIDE_HEADERS,
    ]);

    // A denial: status.code = 1 inside status, denied_response = 2 with HttpStatus.code = 1.
    const d = WireWriter.create();
    d.uint32((1 << 3) | 2)
      .fork()
      .uint32((4 << 3) | 2)
      .fork()
      .uint32((2 << 3) | 2)
      .fork();
    d.uint32((2 << 3) | 2)
      .string('GET')
      .uint32((4 << 3) | 2)
      .string('/fhir/Patient');
    d.ldelim().ldelim().ldelim();
    const denied = decodeWire(await grpc.checkRaw(d.finish()));
    expect(decodeWire(denied.get(1)![0] as Buffer).get(1)).toEqual([16]);
    const deniedHttp = decodeWire(denied.get(2)![0] as Buffer);
    expect(decodeWire(deniedHttp.get(1)![0] as Buffer).get(1)).toEqual([401]);
    expect(JSON.parse((deniedHttp.get(3)![0] as Buffer).toString()).resourceType).toBe('OperationOutcome');
  });

  // The HTTP entry points share one table: /_authz/envoy/<path> answers like /_authz/forward.
  const http = {
    forward: (path: string, method: string, headers: Record<string, string>) =>
      send(`${cluster.gatewayUrl}/_authz/forward`, 'GET', {
        ...headers,
        'x-original-method': method,
        'x-original-uri': path,
        'x-forwarded-proto': 'https',
      }),
    envoy: (path: string, method: string, headers: Record<string, string>) =>
      send(`${cluster.gatewayUrl}/_authz/envoy${path}`, method, { ...headers, 'x-forwarded-proto': 'https' }),
  };
  describe.each(Object.entries(http))('HTTP %s', (_name, ask) => {
    it('200 with identity headers and a verifiable assertion for exactly this request', async () => {
      const res = await ask('/fhir/Patient/1?_elements=id', 'GET', {
        authorization: `Bearer ${alice}`,
        host: 'fhir.example.com',
      });
      expect(res.status).toBe(200);
      expect(res.headers['x-authz-user']).toBe('alice');
      expect(res.headers['x-authz-policy']).toBe('alice-reads');
      const jwks = createRemoteJWKSet(new URL(`${cluster.gatewayUrl}/_authz/jwks.json`));
      const { payload } = await jwtVerify(res.headers['x-authz-assertion'] as string, jwks, {
        issuer: 'authz',
      });
      expect(payload.htm).toBe('GET');
      expect(payload.htu).toBe('https://fhir.example.com/fhir/Patient/1');
    });
    it('401 with WWW-Authenticate, 403 with code forbidden', async () => {
      const unauthorized = await ask('/fhir/Patient', 'GET', {});
      expect(unauthorized.status).toBe(401);
      expect(unauthorized.headers['www-authenticate']).toMatch(
        /^Bearer realm="authz", error="invalid_token"/,
      );
      expect(unauthorized.headers['x-authz-assertion']).toBeUndefined();
      const forbidden = await ask('/fhir/Patient', 'GET', { authorization: `Bearer ${bob}` });
      expect(forbidden.status).toBe(403);
      expect((JSON.parse(forbidden.body) as { issue: Array<{ code: string }> }).issue[0]!.code).toBe(
        'forbidden',
      );
    });
  });

  it('HTTP envoy: a body Envoy sends reaches the body policy; client identity-like headers are listed for removal', async () => {
    const post = (status: string) =>
      fetch(`${cluster.gatewayUrl}/_authz/envoy/fhir/Observation`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${alice}`,
          'content-type': 'application/fhir+json',
          // allowed_headers lets Envoy's whole-body marker through (README, Envoy HTTP).
          'x-envoy-auth-partial-body': 'false',
          x_authz_user: 'root',
          'x-authz-assertion': 'forged',
        },
        body: JSON.stringify({ resourceType: 'Observation', status }),
      });
    const ok = await post('final');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-authz-policy')).toBe('alice-final-observations');
    // x-authz-assertion is set by the answer (overwritten), so only the `_` spelling is removed.
    expect(ok.headers.get('x-envoy-auth-headers-to-remove')).toBe(
      ['x_authz_user', ...METHOD_OVERRIDE_HEADERS, ...TARGET_OVERRIDE_HEADERS].join(', '),
    );
    expect((await post('draft')).status).toBe(403);
    const malformed = await send(`${cluster.gatewayUrl}/_authz/envoy/fhir/%2e%2e/admin`, 'GET', {
      authorization: `Bearer ${alice}`,
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toContain('dot-segment');
  });

  it('gRPC deadline exceeded while the worker is stalled: never an allow', async () => {
    const worker = cluster.workers[0]!;
    process.kill(worker.child.pid!, 'SIGSTOP');
    try {
      const started = Date.now();
      const outcome = await grpc
        .check(
          attributes({ method: 'GET', path: '/fhir/Patient', headers: { authorization: `Bearer ${alice}` } }),
          300,
        )
        .then(
          (res) => ({ answered: res.status!.code, http: res.denied_response?.status.code }),
          (err: { code: number }) => ({ error: err.code }),
        );
      // Either grpc-js ends the call (DEADLINE_EXCEEDED = 4) or the gateway's check, bounded by
      // the caller's deadline, answers 503 UNAVAILABLE first. Both are denials.
      expect([{ error: 4 }, { answered: 14, http: 'ServiceUnavailable' }]).toContainEqual(outcome);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      process.kill(worker.child.pid!, 'SIGCONT');
    }
  });

  it('no worker answering: 503 UNAVAILABLE over gRPC, 503 over HTTP — never ok', async () => {
    const [port, grpcPort] = [await freePort(), await freePort()];
    let lonely: ServiceProcess | undefined;
    const client = extAuthzClient(`127.0.0.1:${grpcPort}`);
    try {
      lonely = await startService('gateway', {
        ...cluster.env,
        GATEWAY_PORT: String(port),
        GATEWAY_GRPC_PORT: String(grpcPort),
        AUTHZ_SUBJECT_PREFIX: 'nobody-home',
        GATEWAY_CHECK_TIMEOUT_MS: '300',
      });
      const res = await client.check(
        attributes({ method: 'GET', path: '/fhir/Patient', headers: { authorization: `Bearer ${alice}` } }),
      );
      expect(res.status!.code).toBe(14);
      expect(res.http_response).toBe('denied_response');
      expect(res.denied_response!.status.code).toBe('ServiceUnavailable');
      expect(res.status!.message).toMatch(/no authorization worker/);
      const envoyHttp = await fetch(`http://127.0.0.1:${port}/_authz/envoy/fhir/Patient`, {
        headers: { authorization: `Bearer ${alice}` },
      });
      expect(envoyHttp.status).toBe(503);
    } finally {
      client.close();
      await lonely?.stop();
    }
  });
});
