import { connect as tcpConnect } from 'node:net';
import { subjects } from '@authz/protocol';
import { hsReaders, mintJwt, startCluster, type TestCluster } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCorpus, rssKiB, until } from './support.js';

// Hostile check requests straight over NATS to a real worker (corpus/check-requests.json):
// each gets its exact status and reason, the worker keeps answering a good request after
// every one, and its memory stays bounded.

interface Expectation {
  status?: number;
  error?: string;
  reason?: string;
  /** the payload exceeds NATS max_payload: the client must refuse to send it */
  refusedByNats?: boolean;
}
interface Generator {
  kind: string;
  length?: number;
  count?: number;
  bytes?: number;
  depth?: number;
  token?: boolean;
}
interface CheckCase {
  name: string;
  raw?: string;
  rawBase64?: string;
  request?: unknown;
  generate?: Generator;
  expect: Expectation;
}

const corpus = readCorpus<{ cases: CheckCase[] }>('check-requests.json');
const ISS = 'https://hostile.test';
const SECRET = 'hostile-check-secret-0123456789';
/** Memory a worker may keep after the whole corpus (V8 keeps some of what 1 MiB payloads grew). */
const RSS_SLACK_MIB = 96;
/** Growth allowed over three more passes once two passes have sized the heap (a plateau ≈ 5 MiB). */
const PASS_GROWTH_MIB = 24;

/** Builds the large payloads of `generate` cases (kept out of the JSON file for its size). */
function generated(g: Generator, token: string): string {
  const n = g.length ?? g.count ?? g.bytes ?? g.depth ?? 0;
  const auth = { authorization: `Bearer ${token}` };
  const request = (fields: Record<string, unknown>) =>
    JSON.stringify({ method: 'GET', uri: '/fhir/Patient', ...fields });
  const bodyRequest = (body: string) =>
    `{"method":"POST","uri":"/hostile/body","headers":{"authorization":"Bearer ${token}"},"body":${body}}`;
  switch (g.kind) {
    case 'long-method':
      return request({ method: 'G'.repeat(n) });
    case 'long-uri':
      return request({ uri: `/fhir/${'a'.repeat(n)}` });
    case 'long-scheme':
      return request({ scheme: 'h'.repeat(n) });
    case 'headers':
      return request({ headers: Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h-${i}`, 'v'])) });
    case 'header-value':
      return request({ headers: { 'x-huge': 'v'.repeat(n) } });
    case 'header-list':
      return request({ headers: { 'x-list': Array.from({ length: n }, (_, i) => `v${i}`) } });
    case 'header-name':
      return request({ headers: { [`x-${'n'.repeat(n)}`]: 'v' } });
    case 'long-token':
      return request({ headers: { authorization: `Bearer ${'t'.repeat(n)}` } });
    case 'top-level-fields':
      return request(Object.fromEntries(Array.from({ length: n }, (_, i) => [`field${i}`, i])));
    case 'body-bytes': {
      const head = {
        method: 'POST',
        uri: '/hostile/body',
        headers: g.token ? auth : {},
        body: { kind: 'blob', blob: '' },
      };
      return JSON.stringify({
        ...head,
        body: { kind: 'blob', blob: 'x'.repeat(n - JSON.stringify(head).length) },
      });
    }
    case 'nested-arrays':
      return bodyRequest(`${'['.repeat(n)}${']'.repeat(n)}`);
    case 'nested-objects':
      return bodyRequest(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);
    case 'wide-body':
      return bodyRequest(
        JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
      );
    case 'many-params':
      return request({
        uri: `/fhir/Patient?${Array.from({ length: n }, (_, i) => `p${i}=1`).join('&')}`.slice(0, 16384),
        headers: auth,
      });
    default:
      throw new Error(`unknown generator ${g.kind}`);
  }
}

describe('hostile check requests over NATS to a real worker', () => {
  let cluster: TestCluster;
  let token: string;
  let workerPid: number;
  let rssBefore: number;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 1, gateway: false });
    workerPid = cluster.workers[0]!.child.pid!;
    const puts: Array<[string, unknown]> = [
      ...hsReaders(ISS, SECRET, { uri: '#^/fhir/' }),
      // Evaluates the body, so hostile bodies reach the policy engines.
      [
        '/AccessPolicy/body-check',
        {
          resourceType: 'AccessPolicy',
          engine: 'matcho',
          matcho: { uri: '/hostile/body', body: { kind: 'ok', items: { $every: { id: 'present?' } } } },
        },
      ],
    ];
    for (const [path, body] of puts) expect((await cluster.admin('PUT', path, body)).status).toBe(201);
    token = await mintJwt({
      key: SECRET,
      alg: 'HS256',
      claims: { iss: ISS, sub: 'u1', exp: Math.floor(Date.now() / 1000) + 3600 },
    });
    await until('the configuration reaches the worker', async () => (await goodRequest()).status === 200);
    rssBefore = rssKiB(workerPid);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function send(payload: string | Buffer) {
    const msg = await cluster.nc.request(subjects().check, payload, { timeout: 10_000 });
    return msg.json<{ allow: boolean; status: number; reason: string; error?: string }>();
  }
  const goodRequest = () =>
    send(
      JSON.stringify({ method: 'GET', uri: '/fhir/Patient', headers: { authorization: `Bearer ${token}` } }),
    );

  async function runCase(c: CheckCase): Promise<void> {
    const payload = c.rawBase64
      ? Buffer.from(c.rawBase64, 'base64')
      : c.generate
        ? generated(c.generate, token)
        : (c.raw ?? JSON.stringify(c.request)).replaceAll('$TOKEN', token);
    if (c.expect.refusedByNats) {
      expect(Buffer.byteLength(payload)).toBeGreaterThan(cluster.nc.info!.max_payload);
      await expect(send(payload)).rejects.toThrow(/payload/i);
    } else {
      const reply = await send(payload);
      expect(reply.status, reply.reason).toBe(c.expect.status);
      expect(reply.allow).toBe(c.expect.status === 200);
      expect(reply.reason).toMatch(new RegExp(c.expect.reason!));
      if (c.expect.error) expect(reply.error).toBe(c.expect.error);
      expect(reply.reason).not.toContain(token);
    }
    // The worker is still there and still right.
    expect((await goodRequest()).status).toBe(200);
    expect(cluster.workers[0]!.child.exitCode).toBeNull();
  }

  it.each(corpus.cases)('$name', (c) => runCase(c));

  it('is protected by the server too: a raw PUB over max_payload is refused, the worker unharmed', async () => {
    const { port } = new URL(cluster.nats.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(Number(port), '127.0.0.1');
      let text = '';
      let sent = false;
      socket.setTimeout(5000, () => {
        socket.destroy();
        reject(new Error(`no -ERR from the server; got ${text}`));
      });
      socket.on('data', (d) => {
        text += d.toString();
        if (text.startsWith('INFO') && !sent) {
          sent = true;
          // The server judges the size on the PUB line; sending the bytes too would only race
          // its close (an RST that can swallow the -ERR).
          const size = cluster.nc.info!.max_payload + 1;
          socket.write(
            `CONNECT {"verbose":false,"pedantic":false}\r\nPUB ${subjects().check} _INBOX.raw ${size}\r\n`,
          );
        }
      });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(answer).toMatch(/-ERR 'Maximum Payload Violation'/);
    expect((await goodRequest()).status).toBe(200);
  });

  it('keeps the worker alive with bounded memory: more passes over the corpus do not grow it', async () => {
    const pass = async () => {
      for (const c of corpus.cases) await runCase(c);
      return rssKiB(workerPid);
    };
    // The first passes let V8 size its heap for 1 MiB payloads; after that a leak would show as
    // growth with every pass, a sized heap as a plateau. One sample can land just after a GC (low)
    // or just before one (high), so the plateau is the highest of two samples and what came later
    // the lowest of two: a leak raises every later sample, GC timing does not.
    const rssAfterOnePass = rssKiB(workerPid);
    const rssSized = Math.max(await pass(), await pass());
    await pass();
    const rssAfter = Math.min(await pass(), await pass());
    const mib = (kib: number) => `${(kib / 1024).toFixed(1)}MiB`;
    console.log(
      `hostile[check requests] cases=${corpus.cases.length} worker_rss_before=${mib(rssBefore)} after_1_pass=${mib(rssAfterOnePass)} passes_2_3_max=${mib(rssSized)} passes_5_6_min=${mib(rssAfter)}`,
    );
    expect(cluster.workers[0]!.child.exitCode).toBeNull();
    expect(rssAfter - rssBefore).toBeLessThan(RSS_SLACK_MIB * 1024);
    expect(rssAfter - rssSized).toBeLessThan(PASS_GROWTH_MIB * 1024);
  });
});
