import { gzipSync } from 'node:zlib';
import type { TestCluster } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RawRequest,
  type RecordingUpstream,
  sendRaw,
  startIntegrityCluster,
} from './integrity-cluster.js';
import { readCorpus } from './support.js';

// DESIGN §10 against the real gateway, worker and a recording upstream (corpus/integrity.json):
// every request that once let a policy see another request than the upstream served is now
// refused or denied, and nothing of it reaches the upstream.

interface IntegrityCase {
  name: string;
  mode?: 'proxy' | 'forward';
  as: 'alice' | 'none';
  method: string;
  uri: string;
  headers?: Array<[string, string]>;
  body?: string;
  padTo?: number;
  chunked?: boolean;
  gzip?: boolean;
  bom?: boolean;
  nest?: number;
  expect: { status: number; reason?: string };
}

const corpus = readCorpus<{ cases: IntegrityCase[] }>('integrity.json');

/** `{a&x256}` in a corpus URI or body stands for `a&` written 256 times. */
function expandUri(uri: string): string {
  return uri.replace(/\{([^{}]*)x(\d+)\}/g, (_m, text: string, n: string) => text.repeat(Number(n)));
}

/** A JSON body with `securityLabel` nested `depth` objects deep. */
function nested(depth: number): string {
  let inner = '{"securityLabel":[{"code":"R"}]}';
  for (let i = 1; i < depth; i++) inner = `{"extension":${inner}}`;
  return `{"resourceType":"Encounter","contained":${inner}}`;
}

function bodyOf(c: IntegrityCase): Buffer | undefined {
  let text = c.nest !== undefined ? nested(c.nest) : c.body;
  if (text === undefined) return undefined;
  text = expandUri(text);
  if (c.padTo !== undefined) text = text.replace(/}$/, `${' '.repeat(Math.max(0, c.padTo - text.length))}}`);
  let bytes = Buffer.from(text);
  if (c.bom) bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
  if (c.gzip) bytes = gzipSync(bytes);
  return bytes;
}

function requestOf(c: IntegrityCase, alice: string): RawRequest {
  const uri = expandUri(c.uri);
  const headers: Array<[string, string]> = [];
  if (c.as === 'alice') headers.push(['Authorization', `Bearer ${alice}`]);
  headers.push(...(c.headers ?? []));
  if (c.mode === 'forward') {
    headers.push(['X-Original-Method', c.method], ['X-Original-URI', uri]);
    return { method: 'GET', path: '/_authz/forward', headers };
  }
  return { method: c.method, path: uri, headers, body: bodyOf(c), chunked: c.chunked };
}

describe('decision integrity: hostile requests through the real gateway (DESIGN §10)', () => {
  let cluster: TestCluster;
  let upstream: RecordingUpstream;
  let alice: string;

  beforeAll(async () => {
    ({ cluster, upstream, alice } = await startIntegrityCluster());
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await upstream?.close();
  });

  it.each(corpus.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    upstream.received.length = 0;
    const res = await sendRaw(cluster.gatewayUrl, requestOf(c, alice));
    expect(res.status, res.text).toBe(c.expect.status);
    if (c.expect.reason !== undefined) expect(res.text).toContain(c.expect.reason);
    expect(upstream.received).toEqual([]);
  });

  it('forwards exactly the checked target, headers and body of an allowed request', async () => {
    upstream.received.length = 0;
    const body = Buffer.from('{"resourceType":"Observation","status":"final"}');
    const res = await sendRaw(cluster.gatewayUrl, {
      method: 'POST',
      path: '/fhir/Observation?_pretty=true&x=%7C',
      chunked: true,
      body,
      headers: [
        ['Authorization', `Bearer ${alice}`],
        ['Content-Type', 'application/fhir+json'],
        ['X_Authz_User', 'admin'],
        ['X-Authz-Policy', 'forged'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-For', '6.6.6.6'],
        ['Forwarded', 'for=6.6.6.6;proto=https'],
        ['Expect', '100-continue'],
      ],
    });
    expect(res.status, res.text).toBe(200);
    expect(upstream.received).toHaveLength(1);
    const got = upstream.received[0]!;
    expect([got.method, got.url]).toEqual(['POST', '/fhir/Observation?_pretty=true&x=%7C']);
    expect(got.body.equals(body)).toBe(true);
    expect(got.headers['content-length']).toBe(String(body.length));
    expect(got.headers['x-authz-policy']).toBe('observation-final');
    expect(got.headers['x-authz-user']).toBe('alice');
    // Reserved names in any spelling, and an untrusted client's forwarding headers, never arrive.
    expect(got.rawHeaders.filter((h) => /^x[-_]authz[-_]/i.test(h))).toEqual([
      'x-authz-user',
      'x-authz-subject',
      'x-authz-policy',
    ]);
    expect(got.headers['x-forwarded-proto']).toBe('http');
    expect(got.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(got.headers.forwarded).toBeUndefined();
    // The gateway answered the 100-continue itself and forwards a whole body.
    expect(got.headers.expect).toBeUndefined();
  });

  it.each([
    [
      'a search by POST without _revinclude',
      'none',
      '/fhir/Patient/_search?_count=10',
      'name=smith&_count=5',
      'search-no-revinclude',
    ],
    [
      "the token's patient named in the form body",
      'alice',
      '/fhir/Observation/_search',
      'patient=pt-1&code=8867-4',
      'own-observations-search',
    ],
    [
      "the token's patient named in both query and body",
      'alice',
      '/fhir/Observation/_search?code=x',
      'patient=pt-1',
      'own-observations-search',
    ],
  ] as const)(
    'forwards %s byte for byte, its form fields read as params',
    async (_what, as, path, form, policy) => {
      upstream.received.length = 0;
      const body = Buffer.from(form);
      const headers: Array<[string, string]> = [['Content-Type', 'application/x-www-form-urlencoded']];
      if (as === 'alice') headers.push(['Authorization', `Bearer ${alice}`]);
      const res = await sendRaw(cluster.gatewayUrl, { method: 'POST', path, headers, body });
      expect(res.status, res.text).toBe(200);
      expect(upstream.received).toHaveLength(1);
      const got = upstream.received[0]!;
      expect([got.method, got.url]).toEqual(['POST', path]);
      expect(got.body.equals(body)).toBe(true);
      expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(got.headers['x-authz-policy']).toBe(policy);
    },
  );

  it('$not still allows what it was written to allow', async () => {
    upstream.received.length = 0;
    const ok = await sendRaw(cluster.gatewayUrl, { method: 'GET', path: '/fhir/Binary?_format=json' });
    const list = await sendRaw(cluster.gatewayUrl, {
      method: 'GET',
      path: '/fhir/Group?_include=a&_include=b',
    });
    expect([ok.status, list.status]).toEqual([200, 200]);
    expect(upstream.received.map((r) => r.url)).toEqual([
      '/fhir/Binary?_format=json',
      '/fhir/Group?_include=a&_include=b',
    ]);
  });

  it('routes on the decoded path and forwards the target as sent', async () => {
    upstream.received.length = 0;
    const res = await sendRaw(cluster.gatewayUrl, {
      method: 'GET',
      path: '/fhir/Patient/%70t-1',
      headers: [['Authorization', `Bearer ${alice}`]],
    });
    expect(res.status).toBe(200);
    expect(upstream.received.map((r) => r.url)).toEqual(['/fhir/Patient/%70t-1']);
  });

  it('answers forward-auth for a POST whose body it cannot see only from policies not reading the body', async () => {
    const res = await sendRaw(cluster.gatewayUrl, {
      method: 'GET',
      path: '/_authz/forward',
      headers: [
        ['Authorization', `Bearer ${alice}`],
        ['X-Original-Method', 'GET'],
        ['X-Original-URI', '/fhir/Patient/pt-1'],
        ['X-Forwarded-Uri', '/fhir/Patient/pt-1'],
      ],
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-authz-policy']).toBe('own-patient');
  });
});
