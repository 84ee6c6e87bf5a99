import { connect } from 'node:net';
import { startCluster, type TestCluster } from '@authz/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCorpus, rssKiB } from './support.js';

// Hostile admin requests to the real config service (corpus/config-api.json): each gets its
// status and an OperationOutcome naming the problem, the process never dies, nothing invalid is
// stored, and its memory stays bounded.

interface ConfigCase {
  name: string;
  method: string;
  path: string;
  contentType: string;
  body?: string;
  json?: unknown;
  generate?: { kind: string; depth?: number; bytes?: number };
  expect: {
    status: number | number[];
    issue?: string | string[];
    diagnostics?: string;
    result?: boolean;
    maxMs?: number;
  };
}

const corpus = readCorpus<{ cases: ConfigCase[] }>('config-api.json');
/** Memory the config service may keep after the corpus (10 MiB bodies are refused unread). */
const RSS_SLACK_MIB = 128;

/**
 * A request body: `body` at once, or `streamed` in pieces — with a Content-Length when `length`
 * is given, else chunked — by a client that stops sending once the server has answered.
 */
interface Body {
  body: string;
  streamed?: string[];
  length?: number;
}

function chunksOf(text: string, size: number): string[] {
  return Array.from({ length: Math.ceil(text.length / size) }, (_, i) =>
    text.slice(i * size, (i + 1) * size),
  );
}

/** The large bodies of `generate` cases. */
function generated(g: NonNullable<ConfigCase['generate']>): Body {
  const depth = g.depth ?? 0;
  switch (g.kind) {
    case 'deep-json':
      return { body: `${'['.repeat(depth)}${']'.repeat(depth)}` };
    case 'deep-yaml-flow':
      return { body: `${'['.repeat(depth)}${']'.repeat(depth)}\n` };
    case 'deep-yaml-block':
      return { body: Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + ' 1\n' };
    case 'deep-matcho':
      return {
        body: `{"resourceType":"AccessPolicy","engine":"matcho","matcho":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
      };
    case 'huge-json': {
      const text = JSON.stringify({
        resourceType: 'AccessPolicy',
        engine: 'allow',
        padding: 'p'.repeat(g.bytes!),
      });
      return { body: text, streamed: chunksOf(text, 64 * 1024), length: Buffer.byteLength(text) };
    }
    case 'huge-yaml-chunked': {
      const chunk = `# ${'p'.repeat(64 * 1024 - 3)}\n`;
      const count = Math.ceil(g.bytes! / chunk.length);
      const head = 'resourceType: AccessPolicy\nengine: allow\n';
      return { body: '', streamed: [head, ...Array.from({ length: count }, () => chunk)] };
    }
    default:
      throw new Error(`unknown generator ${g.kind}`);
  }
}

/**
 * One HTTP/1.1 exchange over a raw socket that reads while it sends and stops sending as soon as
 * the server answers — as curl does. The server may answer 413 before the body is sent and
 * close; node:http would then report the write error (EPIPE) and drop the answer.
 */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: Body,
): Promise<{ status: number; text: string }> {
  const { hostname, port, pathname } = new URL(url);
  const chunked = body.streamed !== undefined && body.length === undefined;
  const length = body.streamed ? body.length : Buffer.byteLength(body.body);
  const head = [
    `${method} ${pathname} HTTP/1.1`,
    `host: ${hostname}:${port}`,
    'connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    chunked ? 'transfer-encoding: chunked' : `content-length: ${length}`,
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const received: Buffer[] = [];
    let answered = false;
    socket.setTimeout(30_000, () => socket.destroy(new Error('no answer within 30 s')));
    socket.on('data', (d: Buffer) => {
      answered = true;
      received.push(d);
    });
    // A reset after the answer arrived is the server closing on an unread body: its right.
    socket.on('error', (err) => (answered ? undefined : reject(err)));
    socket.on('close', () => {
      if (!answered) return reject(new Error('connection closed without an answer'));
      const text = Buffer.concat(received).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    const write = (data: string) => new Promise<void>((done) => socket.write(data, () => done()));
    void (async () => {
      await write(head);
      // A server that refuses on the headers alone (a declared Content-Length over its limit)
      // answers at once: give it the moment, so the answer is read before any body is sent.
      if (body.streamed) await new Promise((r) => setTimeout(r, 200));
      for (const piece of body.streamed ?? [body.body]) {
        if (answered || socket.destroyed) return;
        await write(chunked ? `${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n` : piece);
        await new Promise((r) => setImmediate(r));
      }
      if (chunked && !answered && !socket.destroyed) await write('0\r\n\r\n');
    })();
  });
}

const oneOf = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

describe('hostile requests to the config service', () => {
  let cluster: TestCluster;
  let auth: string;
  let configPid: number;
  let rssBefore: number;

  beforeAll(async () => {
    cluster = await startCluster({ workers: 1, gateway: false });
    auth = `Basic ${Buffer.from(`admin:${cluster.adminPassword}`).toString('base64')}`;
    configPid = cluster.config.child.pid!;
    // Something valid is stored, so "nothing invalid stored" is not trivially an empty list.
    expect(
      (
        await cluster.admin('PUT', '/AccessPolicy/baseline', {
          resourceType: 'AccessPolicy',
          engine: 'allow',
          link: [{ resourceType: 'User', id: 'nobody' }],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await cluster.admin('PUT', '/TokenIntrospector/baseline', {
          resourceType: 'TokenIntrospector',
          type: 'jwt',
          jwt: { iss: 'https://baseline.test', secret: 'baseline-secret' },
        })
      ).status,
    ).toBe(201);
    rssBefore = rssKiB(configPid);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it.each(corpus.cases)('$name', async (c) => {
    const json =
      c.json === undefined
        ? undefined
        : JSON.stringify(c.json)
            .replaceAll('$A16000!', `${'a'.repeat(16_000)}!`)
            .replaceAll('$X16000', 'x'.repeat(16_000));
    const body: Body = c.generate ? generated(c.generate) : { body: c.body ?? json ?? '' };
    const headers = { authorization: auth, 'content-type': c.contentType };
    const started = performance.now();
    const res = await send(`${cluster.configUrl}${c.path}`, c.method, headers, body);
    const ms = performance.now() - started;

    expect(oneOf(c.expect.status), res.text.slice(0, 500)).toContain(res.status);
    const reply = JSON.parse(res.text) as {
      resourceType?: string;
      issue?: Array<{ code: string; diagnostics?: string; expression?: string[] }>;
      result?: boolean;
    };
    if (c.expect.issue !== undefined) {
      expect(reply.resourceType).toBe('OperationOutcome');
      expect(oneOf(c.expect.issue)).toContain(reply.issue?.[0]?.code);
      const said = (reply.issue ?? [])
        .map((i) => `${i.diagnostics ?? ''} ${(i.expression ?? []).join(' ')}`)
        .join(' | ');
      expect(said.trim().length).toBeGreaterThan(0);
      expect(said).toMatch(new RegExp(c.expect.diagnostics ?? '', 'i'));
    }
    if (c.expect.result !== undefined) expect(reply.result).toBe(c.expect.result);
    if (c.expect.maxMs !== undefined) expect(ms).toBeLessThan(c.expect.maxMs);

    expect(cluster.config.child.exitCode).toBeNull();
    expect((await fetch(`${cluster.configUrl}/healthz`)).status).toBe(200);
  });

  it('stored nothing invalid: only the baseline resources are listed', async () => {
    for (const type of ['AccessPolicy', 'TokenIntrospector', 'User', 'Role', 'Client']) {
      const res = await cluster.admin('GET', `/${type}?_count=1000`);
      expect(res.status).toBe(200);
      const bundle = (await res.json()) as { total: number; entry: Array<{ resource: { id: string } }> };
      const ids = bundle.entry.map((e) => e.resource.id);
      expect(ids, type).toEqual(type === 'AccessPolicy' || type === 'TokenIntrospector' ? ['baseline'] : []);
    }
  });

  it('kept the config service and the worker alive with bounded memory', async () => {
    const rssAfter = rssKiB(configPid);
    console.log(
      `hostile[config API] cases=${corpus.cases.length} config_rss_before=${(rssBefore / 1024).toFixed(1)}MiB after=${(rssAfter / 1024).toFixed(1)}MiB`,
    );
    expect(cluster.config.child.exitCode).toBeNull();
    expect(cluster.workers[0]!.child.exitCode).toBeNull();
    expect(rssAfter - rssBefore).toBeLessThan(RSS_SLACK_MIB * 1024);
  });
});
