import { type CheckReply, wire } from '@authz/protocol';

/** Why the client could not get a decision from a worker. */
export type CheckFailureCode =
  | 'ERR_NO_WORKERS'
  | 'ERR_CHECK_TIMEOUT'
  | 'ERR_BAD_REPLY'
  | 'ERR_TRANSPORT'
  | 'ERR_OVERLOADED';

/**
 * The decision given when no worker decided: always a 503 deny. This is the only place a
 * client-side failure turns into a reply, and it can only ever deny.
 */
export function unavailableReply(code: CheckFailureCode, detail?: string): CheckReply {
  const reasons: Record<CheckFailureCode, string> = {
    ERR_NO_WORKERS: 'no authorization worker is running; start a worker or check the NATS connection',
    ERR_CHECK_TIMEOUT:
      'no authorization worker answered in time; the cluster may be overloaded or partitioned',
    ERR_BAD_REPLY: 'an authorization worker sent an unreadable reply; the request is denied',
    ERR_TRANSPORT: 'the authorization cluster cannot be reached over NATS',
    ERR_OVERLOADED:
      'the authorization cluster is over capacity: too many checks from this gateway are already waiting for a worker; retry shortly or add workers',
  };
  return {
    allow: false,
    status: 503,
    reason: detail ? `${reasons[code]} (${detail})` : reasons[code],
  };
}

const STATUSES = new Set([200, 400, 401, 403, 503]);

/**
 * Parses a worker's reply, trusting nothing: an allow needs `allow === true` AND status 200, and
 * the whole reply must match the CheckReply schema; anything malformed is a 503 deny.
 */
export function parseReply(data: Uint8Array | string): CheckReply {
  let reply: unknown;
  try {
    reply = JSON.parse(
      typeof data === 'string'
        ? data
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'),
    );
  } catch {
    return unavailableReply('ERR_BAD_REPLY', 'not JSON');
  }
  if (typeof reply !== 'object' || reply === null) return unavailableReply('ERR_BAD_REPLY', 'not an object');
  const r = reply as Partial<CheckReply>;
  if (typeof r.status !== 'number' || !STATUSES.has(r.status) || typeof r.allow !== 'boolean') {
    return unavailableReply('ERR_BAD_REPLY', 'missing allow/status');
  }
  if (r.allow !== (r.status === 200)) return unavailableReply('ERR_BAD_REPLY', 'allow and status disagree');
  if (typeof r.reason !== 'string') r.reason = r.allow ? 'allowed' : 'denied';
  // The one CheckReply schema (@authz/protocol): a reply of any other shape decides nothing.
  const problem = wire.CheckReply.firstProblem(r);
  if (problem) return unavailableReply('ERR_BAD_REPLY', `not a CheckReply: ${problem}`);
  return r as CheckReply;
}
