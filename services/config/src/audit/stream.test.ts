import { connectNats, createLogger, type NatsConnection } from '@authz/runtime';
import { startNats, type TestServer } from '@authz/test-support';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_STREAM, AuditStreamWatch, ensureAuditStream } from './stream.js';

let nats: TestServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const logger = createLogger('audit-stream-test', 'silent');
const settings = { subject: 'audit-test.v1.decisions', maxAgeSeconds: 3600, replicas: 1 };

beforeAll(async () => {
  nats = await startNats();
  nc = await connectNats(
    { natsServers: [nats.url], subjectPrefix: 'audit-test', logLevel: 'silent', insecureHosts: [] },
    'audit-stream-test',
    logger,
  );
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

describe('ensureAuditStream', () => {
  it('creates the stream once, on file storage, and then leaves it alone', async () => {
    expect(await ensureAuditStream(jsm, settings)).toBe('created');
    expect(await ensureAuditStream(jsm, settings)).toBe('unchanged');
    const info = await jsm.streams.info(AUDIT_STREAM);
    expect(info.config).toMatchObject({
      subjects: ['audit-test.v1.decisions'],
      storage: 'file',
      retention: 'limits',
      discard: 'old',
      max_age: nanos(3600 * 1000),
      num_replicas: 1,
    });
  });

  it('brings a changed retention in line', async () => {
    expect(await ensureAuditStream(jsm, { ...settings, maxAgeSeconds: 7200 })).toBe('updated');
    expect((await jsm.streams.info(AUDIT_STREAM)).config.max_age).toBe(nanos(7200 * 1000));
  });
});

describe('AuditStreamWatch', () => {
  const statsSubject = 'audit-test.v1.stats';
  /** A worker that published `n` events so far says so, as workers do once a second. */
  const workerSays = (worker: string, published: number) =>
    nc.publish(statsSubject, JSON.stringify({ worker, published }));
  /** Events on the subject, counted by a fake worker the way a real one counts its own. */
  let sent = 0;
  const publishEvents = (n: number) => {
    for (let i = 0; i < n; i++) nc.publish(settings.subject, '{}');
    sent += n;
    workerSays('w-1', sent);
  };

  it('counts the events published while the stream was gone as lost, and re-creates it', async () => {
    const counts = { seen: 0, lost: 0, up: [] as boolean[] };
    const watch = new AuditStreamWatch(
      nc,
      { ...settings, statsSubject },
      {
        setAvailable: (up) => counts.up.push(up),
        seen: (n) => {
          counts.seen += n;
        },
        lost: (n) => {
          counts.lost += n;
        },
      },
      logger,
      60_000,
    );
    await watch.start();
    try {
      // A worker starting says 0 before its first check; malformed counts are ignored.
      workerSays('w-1', 0);
      nc.publish(statsSubject, 'not json');
      nc.publish(statsSubject, JSON.stringify({ worker: 'w-x', published: -5 }));
      publishEvents(4);
      await nc.flush();
      await watch.check();
      expect(counts).toEqual({ seen: 4, lost: 0, up: [true, true] });

      await jsm.streams.delete(AUDIT_STREAM);
      publishEvents(3);
      await nc.flush();
      await watch.check();
      expect(counts).toEqual({ seen: 7, lost: 3, up: [true, true, true] });
      expect((await jsm.streams.info(AUDIT_STREAM)).state.messages).toBe(0);

      // Deleted and re-made by someone else between two checks (another config replica, an
      // operator): the events published before the new stream existed are lost, the rest kept.
      publishEvents(2);
      await nc.flush();
      await jsm.streams.delete(AUDIT_STREAM);
      await ensureAuditStream(jsm, settings);
      publishEvents(5);
      await nc.flush();
      await waitFor(async () => (await jsm.streams.info(AUDIT_STREAM)).state.messages === 5);
      await watch.check();
      expect(counts).toEqual({ seen: 14, lost: 5, up: [true, true, true, true] });

      // JetStream not answering: everything published since the last good check is lost.
      const squatter = { name: 'AUDIT_SQUATTER', subjects: [settings.subject] };
      await jsm.streams.delete(AUDIT_STREAM);
      await jsm.streams.add(squatter);
      publishEvents(6);
      await nc.flush();
      await watch.check();
      expect(counts).toEqual({ seen: 20, lost: 11, up: [true, true, true, true, false] });
      await jsm.streams.delete(squatter.name);
      await watch.check();
      expect(counts.up.at(-1)).toBe(true);
      expect(counts.lost).toBe(11);
    } finally {
      watch.stop();
    }
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
