// The audit trail's cost (DESIGN §14, issue 18: "with the stream on, jwt_cached stays within 5 %"):
// the bench's config service runs with AUTHZ_AUDIT=off, and each jwt_cached_audit slice runs with
// a second config service that has the trail on, as shipped — it creates the AUTHZ_DECISIONS
// stream and counts every decision event it sees — stopped and the stream deleted after, so
// jwt_cached and jwt_cached_audit alternate round by round on the same cluster.
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { AUDIT_STREAM } from '../../services/config/dist/audit/stream.js';
import { freePort, startService } from './procs.mjs';

/** `{before, after}` hooks for the slices: the trail is on only while one runs. */
export async function auditTrailHooks(cluster) {
  const jsm = await jetstreamManager(cluster.nc, { timeout: 5000 });
  let config;
  return {
    before: async () => {
      config = await startService('config', {
        ...cluster.env,
        CONFIG_PORT: String(await freePort()),
        CONFIG_ADMIN_PASSWORD: randomBytes(16).toString('hex'),
        AUTHZ_AUDIT: 'on',
      });
      // Ready means the stream exists: the config service creates it before it serves.
      await jsm.streams.info(AUDIT_STREAM);
    },
    /** Stops the trail; resolves with the number of events the stream recorded. */
    after: async () => {
      await config.stop();
      const info = await jsm.streams.info(AUDIT_STREAM);
      await jsm.streams.delete(AUDIT_STREAM);
      return info.state.messages;
    },
  };
}
