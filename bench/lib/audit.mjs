// The audit trail's cost (DESIGN §14, issue 18: "with the stream on, jwt_cached stays within 5 %"):
// the bench's config service runs with AUTHZ_AUDIT=off, and jwt_cached_audit's slices run with the
// AUTHZ_DECISIONS stream created exactly as the config service creates it, deleted again after,
// so jwt_cached and jwt_cached_audit alternate round by round on the same cluster.
import { jetstreamManager } from '@nats-io/jetstream';
import { AUDIT_STREAM, auditStreamConfig } from '../../services/config/dist/audit/stream.js';
import { SUBJECTS } from './cluster.mjs';

/** `{before, after}` hooks for a plan entry: the stream exists only while the slice runs. */
export async function auditStreamHooks(nc) {
  const jsm = await jetstreamManager(nc, { timeout: 5000 });
  return {
    before: async () => {
      await jsm.streams.add(
        auditStreamConfig({ subject: SUBJECTS.decisions, maxAgeSeconds: 3600, replicas: 1 }),
      );
    },
    after: async () => {
      const info = await jsm.streams.info(AUDIT_STREAM);
      await jsm.streams.delete(AUDIT_STREAM);
      return info.state.messages;
    },
  };
}
