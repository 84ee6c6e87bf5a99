import { createServer, request, type Server } from 'node:http';
import { freePort, mintJwt, startCluster, type TestCluster } from '@authz/test-support';

/** One request the recording upstream received, as it received it. */
export interface Received {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: Buffer;
}

/** An upstream that records every request it receives, byte for byte. */
export interface RecordingUpstream {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream');
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A request sent exactly as written: the path is not normalised, headers may repeat. */
export interface RawRequest {
  method: string;
  path: string;
  headers?: Array<[string, string]>;
  body?: Buffer;
  /** send the body with Transfer-Encoding: chunked (two chunks) instead of Content-Length */
  chunked?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Sends a request without any client-side normalisation (fetch would resolve `..`). */
export function sendRaw(baseUrl: string, raw: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: raw.method, path: raw.path, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    const grouped = new Map<string, string[]>();
    for (const [name, value] of raw.headers ?? []) {
      grouped.set(name, [...(grouped.get(name) ?? []), value]);
    }
    for (const [name, values] of grouped)
      req.setHeader(name, values.length === 1 ? (values[0] as string) : values);
    const body = raw.body;
    if (body === undefined || body.length === 0) {
      if (raw.method !== 'GET' && raw.method !== 'HEAD') req.setHeader('content-length', '0');
      req.end();
    } else if (raw.chunked) {
      // Explicit: Node frames GET and DELETE bodies only when told to.
      if (!req.hasHeader('transfer-encoding')) req.setHeader('transfer-encoding', 'chunked');
      const half = Math.floor(body.length / 2);
      req.write(body.subarray(0, half));
      req.end(body.subarray(half));
    } else {
      req.setHeader('content-length', String(body.length));
      req.end(body);
    }
  });
}

export const ISS = 'https://integrity.test';
export const SECRET = 'integrity-secret-0123456789abcdef';

/** The AccessPolicies the integrity tests decide with: each one was bypassable before DESIGN §10. */
export const INTEGRITY_POLICIES: Record<string, unknown> = {
  'own-patient': {
    engine: 'matcho',
    matcho: {
      'request-method': 'get',
      params: { 'resource/type': 'Patient', 'resource/id': '.jwt.patient' },
    },
  },
  'patient-prefix': {
    engine: 'matcho',
    matcho: { 'request-method': 'get', uri: '#^/fhir/Patient', jwt: { sub: 'alice' } },
  },
  'no-unsafe-search': {
    engine: 'matcho',
    matcho: { 'request-method': 'get', uri: '#^/fhir/Observation', params: { _revinclude: 'nil?' } },
  },
  'observation-final': {
    engine: 'json-schema',
    schema: {
      required: ['request-method', 'uri', 'jwt'],
      properties: {
        'request-method': { const: 'post' },
        uri: { const: '/fhir/Observation' },
        body: { required: ['status'], properties: { status: { const: 'final' } } },
      },
    },
  },
  'no-security-label': {
    engine: 'json-schema',
    schema: {
      required: ['request-method', 'uri', 'body', 'jwt'],
      properties: {
        'request-method': { const: 'post' },
        uri: { const: '/fhir/Encounter' },
        body: { $ref: '#/definitions/clean' },
      },
      definitions: {
        clean: {
          not: { required: ['securityLabel'] },
          additionalProperties: { $ref: '#/definitions/clean' },
          items: { $ref: '#/definitions/clean' },
        },
      },
    },
  },
  'no-xml': {
    engine: 'matcho',
    matcho: { uri: '/fhir/Binary', params: { _format: { $not: '#xml' } } },
  },
  'no-member-include': {
    engine: 'matcho',
    matcho: { uri: '/fhir/Group', params: { _include: { $not: { $contains: 'Group:member' } } } },
  },
  // Aidbox's advice for searches, by POST: no _revinclude (its search parameters may travel in a
  // form body, DESIGN §10), and a patient's own observations.
  'search-no-revinclude': {
    engine: 'matcho',
    matcho: { 'request-method': 'post', uri: '/fhir/Patient/_search', params: { _revinclude: 'nil?' } },
  },
  'own-observations-search': {
    engine: 'matcho',
    matcho: {
      'request-method': 'post',
      uri: '/fhir/Observation/_search',
      params: { patient: '.jwt.patient' },
    },
  },
  'stats-from-office': {
    engine: 'matcho',
    matcho: { uri: '/internal/stats', 'remote-addr': '203.0.113.9' },
  },
  'forwarded-office': {
    engine: 'matcho',
    matcho: { uri: '/internal/forwarded', headers: { 'x-forwarded-for': '203.0.113.9' } },
  },
};

/**
 * A cluster whose gateway proxies to a recording upstream and trusts no local proxy;
 * `gatewayEnv` adds to the gateway's environment (an ext_authz gRPC port, say).
 */
export async function startIntegrityCluster(gatewayEnv: Record<string, string> = {}): Promise<{
  cluster: TestCluster;
  upstream: RecordingUpstream;
  alice: string;
}> {
  const upstream = await startRecordingUpstream();
  const cluster = await startCluster({
    workers: 1,
    gatewayEnv: {
      UPSTREAM_URL: upstream.url,
      // The tests connect from 127.0.0.1: as an untrusted client, not as a proxy.
      GATEWAY_TRUSTED_PROXIES: '192.0.2.1/32',
      ...gatewayEnv,
    },
  });
  const put = async (path: string, body: unknown) => {
    const res = await cluster.admin('PUT', path, body);
    if (res.status !== 201 && res.status !== 200)
      throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
  };
  await put('/TokenIntrospector/integrity', {
    resourceType: 'TokenIntrospector',
    type: 'jwt',
    jwt: { iss: ISS, secret: SECRET },
  });
  for (const [id, policy] of Object.entries(INTEGRITY_POLICIES)) {
    await put(`/AccessPolicy/${id}`, { resourceType: 'AccessPolicy', ...(policy as object) });
  }
  const alice = await mintJwt({
    key: SECRET,
    alg: 'HS256',
    claims: { iss: ISS, sub: 'alice', patient: 'pt-1', exp: Math.floor(Date.now() / 1000) + 3600 },
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const probe = await sendRaw(cluster.gatewayUrl, {
      method: 'GET',
      path: '/fhir/Observation?_count=1',
    });
    if (probe.status === 200) break;
    if (Date.now() > deadline) throw new Error('configuration never reached the worker');
    await new Promise((r) => setTimeout(r, 50));
  }
  upstream.received.length = 0;
  return { cluster, upstream, alice };
}
