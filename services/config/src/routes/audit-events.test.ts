import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditDecision, AuditEventResource } from '../audit/balp.js';
import { AUDIT_STREAM } from '../audit/stream.js';
import { type ConfigFixture, startConfigFixture } from '../testing/fixture.js';

let fx: ConfigFixture;
// Decision times near now: the stream's own timestamps bound date searches (within a minute).
const T0 = Math.floor(Date.now() / 1000) * 1000 - 40_000;
const at = (i: number) => new Date(T0 + i * 1000).toISOString().replace('.000Z', 'Z');

/** Decision i: every third denied (403), every fifth of the rest 503, users u0..u2, client app on odd. */
function decision(i: number): AuditDecision {
  const status = i % 3 === 0 ? 403 : i % 5 === 0 ? 503 : 200;
  return {
    time: new Date(T0 + i * 1000).toISOString(),
    request_id: `r${i}`,
    method: 'GET',
    uri: `/fhir/Patient/p${i}`,
    allow: status === 200,
    status,
    reason: status === 200 ? 'allowed by AccessPolicy/p' : 'no',
    ...(status === 200 ? { policy: i % 2 ? 'odd' : 'even' } : {}),
    user: `u${i % 3}`,
    ...(i % 2 ? { client: 'app' } : {}),
    latency: i / 10,
  };
}

async function publish(events: AuditDecision[]): Promise<void> {
  for (const e of events) fx.nc.publish(`${fx.prefix}.v1.decisions`, JSON.stringify(e));
  await fx.nc.flush();
  const jsm = await jetstreamManager(fx.nc);
  const deadline = Date.now() + 5000;
  while ((await jsm.streams.info(AUDIT_STREAM)).state.messages < events.length) {
    if (Date.now() > deadline) throw new Error('events did not reach the stream');
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface SearchBundle {
  entry: Array<{
    resource: AuditEventResource & { issue?: Array<Record<string, string>> };
    search: { mode: string };
  }>;
  link: Array<{ relation: string; url: string }>;
  issue?: Array<{ diagnostics: string }>;
}
const nextLink = (body: SearchBundle) => body.link.find((l) => l.relation === 'next')?.url;

async function search(qs: string): Promise<{ status: number; body: SearchBundle }> {
  const res = await fx.request(`/AuditEvent${qs}`);
  return { status: res.status, body: await res.json() };
}
const ids = (body: SearchBundle) =>
  body.entry.filter((e) => e.search.mode === 'match').map((e) => Number(e.resource.id));

beforeAll(async () => {
  fx = await startConfigFixture({ audit: { window: 7, maxScanned: 40 } });
  await publish(Array.from({ length: 30 }, (_, i) => decision(i + 1)));
});
afterAll(async () => {
  await fx?.close();
});

describe('GET /AuditEvent', () => {
  it('lists the newest first as a searchset of AuditEvents', async () => {
    const { status, body } = await search('?_count=5');
    expect(status).toBe(200);
    expect(body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    expect(ids(body)).toEqual([30, 29, 28, 27, 26]);
    expect(body.entry[0].resource).toMatchObject({ resourceType: 'AuditEvent', recorded: decision(30).time });
    expect(nextLink(body)).toBe('/AuditEvent?_count=5&_cursor=26');
  });

  it('pages on with the next link until the stream is exhausted', async () => {
    const seen: number[] = [];
    let url: string | undefined = '/AuditEvent?_count=12';
    while (url) {
      const res = await fx.request(url);
      const body = (await res.json()) as SearchBundle;
      seen.push(...ids(body));
      url = nextLink(body);
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => 30 - i));
  });

  it.each([
    ['?outcome=4', [30, 27, 24, 21, 18, 15, 12, 9, 6, 3]],
    ['?outcome=8', [25, 20, 10, 5]],
    ['?outcome=0&policy=odd&_count=3', [29, 23, 19]],
    ['?agent=Client/app&outcome=4', [27, 21, 15, 9, 3]],
    ['?agent=User/u2&_count=4', [29, 26, 23, 20]],
    [`?date=ge${at(25)}&date=le${at(27)}`, [27, 26, 25]],
    [`?date=lt${at(3)}`, [2, 1]],
    [`?date=gt${at(28)}&outcome=0`, [29]],
  ])('filters %s', async (qs, expected) => {
    const { status, body } = await search(qs);
    expect(status).toBe(200);
    expect(ids(body)).toEqual(expected);
  });

  it('stops a scan at its bound and says so, with a cursor to continue', async () => {
    // A second config replica on the same stream (ensuring it again is a no-op), with a small bound.
    const small = await startConfigFixture({ nats: fx.nats, audit: { window: 5, maxScanned: 10 } });
    try {
      const res = await small.request('/AuditEvent?outcome=8');
      const body = (await res.json()) as SearchBundle;
      // Windows 30..26 and 25..21 are 10 messages: the bound, before 20 was reached.
      expect(ids(body)).toEqual([25]);
      const warning = body.entry.find((e) => e.search.mode === 'outcome')?.resource;
      expect(warning?.issue?.[0]).toMatchObject({ severity: 'warning', code: 'incomplete' });
      expect(warning?.issue?.[0]?.diagnostics).toBe(
        'the search examined 10 events without finding 50 matches; follow the next link to continue, or narrow it with date',
      );
      const next = nextLink(body);
      expect(next).toBe('/AuditEvent?outcome=8&_cursor=21');
      const pages: number[][] = [];
      for (let url: string | undefined = next; url; ) {
        const page = (await (await small.request(url)).json()) as SearchBundle;
        pages.push(ids(page));
        url = nextLink(page);
      }
      expect(pages).toEqual([[20], [10, 5]]);
    } finally {
      await small.close();
    }
  });

  it('reads one AuditEvent by id and 404s an unknown one', async () => {
    const one = await fx.request('/AuditEvent/3');
    expect(one.status).toBe(200);
    expect((await one.json()).outcome).toBe('4');
    const missing = await fx.request('/AuditEvent/999');
    expect(missing.status).toBe(404);
  });

  it('needs the admin', async () => {
    const res = await fx.request('/AuditEvent', { authorization: null });
    expect(res.status).toBe(401);
  });

  it('refuses an unknown parameter with a 400 OperationOutcome', async () => {
    const { status, body } = await search('?user=u1');
    expect(status).toBe(400);
    expect(body.issue?.[0]?.diagnostics).toMatch(/^unknown search parameter "user"/);
  });
});
