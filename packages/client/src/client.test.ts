import { type CheckRequest, parseStrictJson, wire } from '@authz/protocol';
import { startNats, type TestServer } from '@authz/test-support';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthzClient, checkMessage } from './client.js';

const request = { method: 'GET', uri: '/fhir/Patient' };

describe('AuthzClient against a real NATS server', () => {
  let nats: TestServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url, noAsyncTraces: true });
  });
  afterAll(async () => {
    await nc.close();
    await nats.dispose();
  });

  it('answers 503 deny when no worker is subscribed', async () => {
    const client = new AuthzClient(nc, { subjectPrefix: 'noworkers', timeoutMs: 300 });
    const reply = await client.check(request);
    expect(reply).toMatchObject({ allow: false, status: 503 });
    expect(reply.reason).toMatch(/no authorization worker is running/);
  });

  it('answers 503 deny within the deadline when the worker never replies', async () => {
    const sub = nc.subscribe('silent.v1.check');
    const client = new AuthzClient(nc, { subjectPrefix: 'silent', timeoutMs: 200 });
    const started = Date.now();
    const reply = await client.check(request);
    expect(Date.now() - started).toBeLessThan(400);
    expect(reply).toMatchObject({ allow: false, status: 503 });
    expect(reply.reason).toMatch(/no authorization worker answered in time/);
    sub.unsubscribe();
  });

  it('retries once after a lost reply and returns the second answer', async () => {
    let seen = 0;
    const sub = nc.subscribe('retry.v1.check', {
      callback: (_err, msg) => {
        seen++;
        if (seen === 1) return; // drop the first request, as a dying worker would
        msg.respond(JSON.stringify({ allow: true, status: 200, reason: 'allowed by AccessPolicy/p' }));
      },
    });
    const client = new AuthzClient(nc, { subjectPrefix: 'retry', timeoutMs: 500 });
    const reply = await client.check(request);
    expect(seen).toBe(2);
    expect(reply).toEqual({ allow: true, status: 200, reason: 'allowed by AccessPolicy/p' });
    sub.unsubscribe();
  });

  it.each([
    ['not JSON', 'hello'],
    ['allow with a deny status', JSON.stringify({ allow: true, status: 403, reason: 'x' })],
    ['allow as a string', JSON.stringify({ allow: 'true', status: 200, reason: 'x' })],
    ['unknown status', JSON.stringify({ allow: false, status: 302, reason: 'x' })],
  ])('turns a malformed reply (%s) into a 503 deny', async (_name, body) => {
    const prefix = `bad${Math.random().toString(36).slice(2)}`;
    const sub = nc.subscribe(`${prefix}.v1.check`, { callback: (_e, msg) => msg.respond(body) });
    const reply = await new AuthzClient(nc, { subjectPrefix: prefix, timeoutMs: 300 }).check(request);
    expect(reply).toMatchObject({ allow: false, status: 503 });
    expect(reply.reason).toMatch(/unreadable reply/);
    sub.unsubscribe();
  });

  it('answers 503 at once beyond maxInFlight, and admits again once a check is answered', async () => {
    const held: Array<() => void> = [];
    const sub = nc.subscribe('shed.v1.check', {
      callback: (_err, msg) =>
        held.push(() => msg.respond(JSON.stringify({ allow: true, status: 200, reason: 'allowed' }))),
    });
    const client = new AuthzClient(nc, { subjectPrefix: 'shed', timeoutMs: 5000, maxInFlight: 2 });
    const admitted = [client.check(request), client.check(request)];
    await waitFor(() => held.length === 2);
    expect(client.pending).toBe(2);
    const started = performance.now();
    const shed = await client.check(request);
    // At once: far inside the 5 s check timeout (a loaded CI box can stall any process ~100 ms).
    expect(performance.now() - started).toBeLessThan(1000);
    expect(shed).toMatchObject({ allow: false, status: 503 });
    expect(shed.reason).toMatch(/over capacity: too many checks .* \(2 waiting\)/);
    for (const respond of held.splice(0)) respond();
    expect(await Promise.all(admitted)).toMatchObject([{ allow: true }, { allow: true }]);
    expect(client.pending).toBe(0);
    const again = client.check(request);
    await waitFor(() => held.length === 1);
    held[0]!();
    expect(await again).toMatchObject({ allow: true, status: 200 });
    sub.unsubscribe();
  });

  it('passes request id and traceparent as NATS headers', async () => {
    const got: Record<string, string | undefined> = {};
    const sub = nc.subscribe('hdr.v1.check', {
      callback: (_e, msg) => {
        got.id = msg.headers?.get('x-request-id');
        got.tp = msg.headers?.get('traceparent');
        msg.respond(JSON.stringify({ allow: false, status: 403, reason: 'no' }));
      },
    });
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const reply = await new AuthzClient(nc, { subjectPrefix: 'hdr' }).check(request, {
      requestId: 'r-1',
      traceparent: tp,
    });
    expect(reply.status).toBe(403);
    expect(got).toEqual({ id: 'r-1', tp });
    sub.unsubscribe();
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('checkMessage: the validated body text spliced into the check message', () => {
  const texts = [
    '{"resourceType":"Observation","status":"final"}',
    ' \n\t{ "a" : [ 1, 2.5e3, -1, true, null, "\\u00e9\\"x\\\\" ] , "b" : { } }\r\n',
    '{"text":"Grüße \u2028 😀","n":{"deep":[[[{}]]]}}',
    '[]',
    '"just a string"',
    '42',
    'null',
  ];
  const request = (body: unknown): CheckRequest => ({
    method: 'POST',
    uri: '/fhir/Observation?x=%22',
    headers: { 'content-type': 'application/fhir+json', 'x-q': ['"}', ','] },
    remote_addr: '127.0.0.1',
    scheme: 'http',
    body,
  });

  it.each(texts)('carries %j as the same JSON value the wire schema accepts', (text) => {
    const bytes = Buffer.from(text);
    const parsed = parseStrictJson(bytes);
    if (!('json' in parsed)) throw new Error(`test body ${text} is not strict JSON`);
    const message = checkMessage(request(parsed.json), bytes);
    expect(typeof message).not.toBe('string');
    const decoded: unknown = JSON.parse(Buffer.from(message).toString('utf8'));
    expect(wire.CheckRequest.check(decoded)).toBe(true);
    expect(decoded).toEqual(JSON.parse(JSON.stringify(request(parsed.json))));
  });

  it('serialises the request itself without body text, or without a body', () => {
    const plain = request({ a: 1 });
    expect(checkMessage(plain)).toBe(JSON.stringify(plain));
    const none: CheckRequest = { method: 'GET', uri: '/fhir/Patient' };
    expect(checkMessage(none, Buffer.from('{"a":1}'))).toBe(JSON.stringify(none));
  });
});
