// The audit trail's cost (DESIGN §14, issue 18: "with the stream on, jwt_cached stays within 5 %"):
// the bench's config service runs with AUTHZ_AUDIT=off, and each jwt_cached_audit slice runs with
// a second config service that has the trail on, as shipped — it creates the AUTHZ_DECISIONS
// stream and keeps the loss count from the workers' authz.v1.stats — stopped and the stream
// deleted after, so jwt_cached and jwt_cached_audit alternate round by round on the same cluster.
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { AUDIT_STREAM } from '../../services/config/dist/audit/stream.js';
import { freePort, sleep, startService } from './procs.mjs';

/** `{before, after}` hooks for the slices: the trail is on only while one runs. */
export async function auditTrailHooks(cluster) {
  const jsm = await jetstreamManager(cluster.nc, { timeout: 5000 });
  let config;
  return {
    /** The audit config service's pid while a slice runs (its CPU is charged to the slice). */
    pids: () => (config?.pid ? [config.pid] : []),
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
    /**
     * Stops the trail; resolves with what the stream recorded: its events, the bytes it accounts
     * for them, and the disk its directory takes (allocated blocks, once nats-server has flushed).
     */
    after: async () => {
      await config.stop();
      const info = await jsm.streams.info(AUDIT_STREAM);
      const dir = join(cluster.nats.storeDir, 'jetstream', '$G', 'streams', AUDIT_STREAM);
      let disk = diskBytes(dir);
      for (let settled = 0, tries = 0; settled < 3 && tries < 50; tries++) {
        await sleep(100);
        const now = diskBytes(dir);
        settled = now === disk ? settled + 1 : 0;
        disk = now;
      }
      await jsm.streams.delete(AUDIT_STREAM);
      return { messages: info.state.messages, bytes: info.state.bytes, disk };
    },
  };
}

/** Disk a directory's files take (`du`: allocated 512-byte blocks), recursively. */
function diskBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? diskBytes(path) : statSync(path).blocks * 512;
  }
  return total;
}
