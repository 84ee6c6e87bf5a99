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
  it('counts the events published while the stream was gone as lost, and re-creates it', async () => {
    const counts = { seen: 0, lost: 0, up: [] as boolean[] };
    const watch = new AuditStreamWatch(
      nc,
      settings,
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
      for (let i = 0; i < 4; i++) nc.publish(settings.subject, '{}');
      await nc.flush();
      await watch.check();
      expect(counts).toEqual({ seen: 4, lost: 0, up: [true, true] });

      await jsm.streams.delete(AUDIT_STREAM);
      for (let i = 0; i < 3; i++) nc.publish(settings.subject, '{}');
      await nc.flush();
      await watch.check();
      expect(counts).toEqual({ seen: 7, lost: 3, up: [true, true, true] });
      expect((await jsm.streams.info(AUDIT_STREAM)).state.messages).toBe(0);
    } finally {
      watch.stop();
    }
  });
});
