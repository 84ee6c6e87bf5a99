import { subjects } from '@authz/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigFixture, startConfigFixture } from '../testing/fixture.js';

let config: ConfigFixture;
beforeAll(async () => {
  config = await startConfigFixture();
});
afterAll(async () => {
  await config?.close();
});

const event = (status: number, extra: Record<string, unknown> = {}) => ({
  time: new Date().toISOString(),
  request_id: `r${status}`,
  method: 'GET',
  uri: '/fhir/Patient',
  allow: status === 200,
  status,
  reason: 'because',
  latency: 0.2,
  ...extra,
});

async function readEvents(body: ReadableStream<Uint8Array>, count: number): Promise<unknown[]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const events: unknown[] = [];
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end = text.indexOf('\n\n');
    while (end >= 0) {
      const frame = text.slice(0, end);
      text = text.slice(end + 2);
      end = text.indexOf('\n\n');
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (frame.includes('event: decision') && data) events.push(JSON.parse(data.slice(6)));
    }
  }
  await reader.cancel();
  return events;
}

describe('GET /$decisions', () => {
  it('streams decision events filtered on the server, with only the contract fields', async () => {
    const controller = new AbortController();
    const res = await config.request('/$decisions?status=403,401&user=u1', { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = readEvents(res.body as ReadableStream<Uint8Array>, 2);
    await new Promise((r) => setTimeout(r, 100)); // let the subscription reach the server
    const subject = subjects(config.prefix).decisions;
    config.nc.publish(subject, JSON.stringify(event(200, { user: 'u1' })));
    config.nc.publish(subject, JSON.stringify(event(403, { user: 'u2' })));
    config.nc.publish(subject, JSON.stringify(event(403, { user: 'u1', token: 'leaked', policy: 'p' })));
    config.nc.publish(subject, 'not json');
    config.nc.publish(subject, JSON.stringify(event(401, { user: 'u1' })));
    const got = await events;
    controller.abort();
    expect(got).toEqual([event(403, { user: 'u1', policy: 'p' }), event(401, { user: 'u1' })].map(strip));
  });

  it('refuses a bad filter with 400', async () => {
    expect((await config.request('/$decisions?status=abc')).status).toBe(400);
  });
});

function strip(e: Record<string, unknown>) {
  const { time: _t, ...rest } = e;
  return expect.objectContaining(rest);
}
