import { METHOD_OVERRIDE_HEADERS, TARGET_OVERRIDE_HEADERS } from '@authz/protocol';
import { freePort, type ServiceProcess, startService, type TestCluster } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DecodedCheckResponse, type ExtAuthzClient, extAuthzClient } from '../support/envoy.js';
import {
  type RawResponse,
  type RecordingUpstream,
  sendRaw,
  startIntegrityCluster,
} from './integrity-cluster.js';
import { readCorpus } from './support.js';

// DESIGN §10 at the Envoy entry points of §14 (corpus/envoy-integrity.json), against a real
// gateway, worker and NATS. Envoy forwards the original request itself after an OK, so every case
// asks: can the CheckRequest make the worker decide on another request than the one Envoy
// forwards, or make the gateway guess where it must refuse? Two gateways share the cluster: one
// trusts the test's loopback address as a proxy (Envoy in GATEWAY_TRUSTED_PROXIES, with a load
// balancer in 10.0.0.0/8 in front of it), the other does not.

interface EnvoyCase {
  name: string;
  entry: 'grpc' | 'http';
  peer?: 'trusted' | 'untrusted';
  as: 'alice' | 'none';
  method: string;
  path: string;
  headers?: Array<[string, string]>;
  encoding?: 'map' | 'raw';
  body?: string;
  packAsBytes?: boolean;
  http?: Record<string, unknown>;
  source?: string;
  expect: { status: number; reason?: string; policy?: string; user?: string; removes?: string[] };
}

const corpus = readCorpus<{ cases: EnvoyCase[] }>('envoy-integrity.json');

/** `envoy.type.v3.StatusCode` names, as the proto loader decodes `denied_response.status.code`. */
const HTTP_STATUS: Record<string, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  PayloadTooLarge: 413,
  URITooLong: 414,
  RequestHeaderFieldsTooLarge: 431,
  ServiceUnavailable: 503,
};

/** DESIGN §14: 401 → UNAUTHENTICATED, 503 → UNAVAILABLE, every other denial PERMISSION_DENIED. */
const grpcCodeFor = (status: number) => (status === 200 ? 0 : status === 401 ? 16 : status === 503 ? 14 : 7);

/** `{a&x256}` in a corpus path stands for `a&` written 256 times. */
const expandPath = (path: string) =>
  path.replace(/\{([^{}]*)x(\d+)\}/g, (_m, text: string, n: string) => text.repeat(Number(n)));

/** `{alice}` anywhere in a string value (nested too) is alice's token; `raw_value` text becomes bytes. */
function substitute(value: unknown, alice: string): unknown {
  if (typeof value === 'string') return value.replaceAll('{alice}', alice);
  if (Array.isArray(value)) return value.map((v) => substitute(v, alice));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === 'raw_value' ? Buffer.from(substitute(v, alice) as string) : substitute(v, alice),
      ]),
    );
  return value;
}

function headersOf(c: EnvoyCase, alice: string): Array<[string, string]> {
  const headers: Array<[string, string]> = c.as === 'alice' ? [['authorization', `Bearer ${alice}`]] : [];
  for (const [name, value] of c.headers ?? []) headers.push([name, substitute(value, alice) as string]);
  return headers;
}

/** The CheckRequest Envoy would send for the case: its headers encoded the way Envoy encodes them. */
function checkRequestOf(c: EnvoyCase, alice: string): unknown {
  const http: Record<string, unknown> = {
    method: c.method,
    path: expandPath(c.path),
    host: 'fhir.example.com',
    scheme: 'https',
    protocol: 'HTTP/1.1',
  };
  const headers = headersOf(c, alice);
  if (c.encoding === 'raw') {
    http.header_map = { headers: headers.map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) };
  } else if (headers.length > 0) {
    // Envoy merges a repeated header into one map entry, its values joined with ",".
    const map: Record<string, string> = {};
    for (const [name, value] of headers) map[name] = name in map ? `${map[name]},${value}` : value;
    http.headers = map;
  }
  if (c.body !== undefined) {
    if (c.packAsBytes) http.raw_body = Buffer.from(c.body);
    else http.body = c.body;
  }
  Object.assign(http, substitute(c.http ?? {}, alice));
  return {
    attributes: {
      source: { address: { socket_address: { address: c.source ?? '198.51.100.20', port_value: 50_000 } } },
      request: { http },
    },
  };
}

/** One answer in the shape both entries share. */
interface Answer {
  status: number;
  text: string;
  headers: Record<string, string>;
  removes: string[];
}

function grpcAnswer(res: DecodedCheckResponse): Answer {
  const code = res.status?.code ?? 0;
  if (res.http_response === 'ok_response') {
    expect(code).toBe(0);
    const ok = res.ok_response!;
    return {
      status: 200,
      text: '',
      headers: Object.fromEntries(ok.headers.map((h) => [h.header.key, h.header.value])),
      removes: [...ok.headers_to_remove].sort(),
    };
  }
  const denied = res.denied_response!;
  const status = HTTP_STATUS[String(denied.status.code)] ?? Number(denied.status.code);
  expect(code, 'gRPC code of the denial (DESIGN §14)').toBe(grpcCodeFor(status));
  return { status, text: `${res.status?.message ?? ''} ${denied.body}`, headers: {}, removes: [] };
}

function httpAnswer(res: RawResponse): Answer {
  const removes = res.headers['x-envoy-auth-headers-to-remove'];
  return {
    status: res.status,
    text: res.text,
    headers: Object.fromEntries(
      Object.entries(res.headers).filter((e): e is [string, string] => typeof e[1] === 'string'),
    ),
    removes: typeof removes === 'string' ? removes.split(/\s*,\s*/).sort() : [],
  };
}

describe('decision integrity at the Envoy entry points (DESIGN §10, §14)', () => {
  let cluster: TestCluster;
  let upstream: RecordingUpstream;
  let alice: string;
  let trustingGateway: ServiceProcess;
  const gateways = {} as Record<'trusted' | 'untrusted', { url: string; grpc: ExtAuthzClient }>;

  beforeAll(async () => {
    const untrustedGrpc = await freePort();
    // The cluster's own gateway trusts only 192.0.2.1: the test's loopback peer is untrusted.
    ({ cluster, upstream, alice } = await startIntegrityCluster({
      GATEWAY_GRPC_PORT: String(untrustedGrpc),
    }));
    const [port, grpcPort] = [await freePort(), await freePort()];
    trustingGateway = await startService('gateway', {
      ...cluster.env,
      GATEWAY_PORT: String(port),
      GATEWAY_GRPC_PORT: String(grpcPort),
      GATEWAY_TRUSTED_PROXIES: '127.0.0.1/32,10.0.0.0/8',
    });
    gateways.untrusted = {
      url: cluster.gatewayUrl,
      grpc: extAuthzClient(`127.0.0.1:${untrustedGrpc}`),
    };
    gateways.trusted = { url: `http://127.0.0.1:${port}`, grpc: extAuthzClient(`127.0.0.1:${grpcPort}`) };
  }, 60_000);
  afterAll(async () => {
    for (const g of Object.values(gateways)) g.grpc.close();
    await trustingGateway?.stop();
    await cluster?.stop();
    await upstream?.close();
  });

  it.each(corpus.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const gateway = gateways[c.peer ?? 'trusted'];
    const answer =
      c.entry === 'grpc'
        ? grpcAnswer(await gateway.grpc.check(checkRequestOf(c, alice)))
        : httpAnswer(
            await sendRaw(gateway.url, {
              method: c.method,
              path: `/_authz/envoy${expandPath(c.path)}`,
              headers: headersOf(c, alice),
              body: c.body === undefined ? undefined : Buffer.from(c.body),
            }),
          );
    expect(answer.status, answer.text).toBe(c.expect.status);
    if (c.expect.reason !== undefined) expect(answer.text).toContain(c.expect.reason);
    if (c.expect.status === 200) {
      expect(answer.headers['x-authz-policy']).toBe(c.expect.policy);
      if (c.expect.user !== undefined) {
        expect(answer.headers['x-authz-user']).toBe(c.expect.user);
        expect(answer.headers['x-authz-subject']).toBe(c.expect.user);
      }
      // Besides the client's identity-like headers, an allow always removes the method overrides.
      expect(answer.removes).toEqual(
        [...(c.expect.removes ?? []), ...METHOD_OVERRIDE_HEADERS, ...TARGET_OVERRIDE_HEADERS].sort(),
      );
    }
    // The entry points decide; they never proxy.
    expect(upstream.received).toEqual([]);
  });
});
