import { type CheckReply, type ExplainEntry, queryRedactor } from '@authz/protocol';

/** The URI with credential query values redacted by the default `AUTHZ_REDACT_PARAMS` list. */
export const redactUri: (uri: string) => string = queryRedactor();

/** What the decision event needs beyond the reply. */
export interface DecisionEventFields {
  requestId: string;
  method: string;
  uri: string;
  latencyMs: number;
  worker: string;
}

// Serialized by hand: this runs for every decision, and building an object only to stringify it
// costs twice as much (bench/hot-path.mjs). Strings go through JSON.stringify, so escaping is
// JSON's own; the shapes are @authz/protocol's DecisionEvent and CheckReply schemas, and
// events.test.ts validates this output against them (STYLE: a fast serializer lives behind a test).
const str = JSON.stringify;

/** The JSON published on `authz.v1.stats`: how many decision events this worker has published. */
export function workerStatsJson(worker: string, published: number): string {
  return `{"worker":${str(worker)},"published":${published}}`;
}

/** The JSON of the event published on `authz.v1.decisions` (DESIGN §5: never a token). */
export function decisionEventJson(
  fields: DecisionEventFields,
  reply: CheckReply,
  redact: (uri: string) => string = redactUri,
): string {
  let json =
    `{"time":"${isoNow()}","request_id":${str(fields.requestId)},"method":${str(fields.method)}` +
    `,"uri":${str(redact(fields.uri))},"allow":${reply.allow},"status":${reply.status}` +
    `,"reason":${str(reply.reason)},"latency":${Math.round(fields.latencyMs * 1000) / 1000}` +
    `,"worker":${str(fields.worker)}`;
  if (reply.error) json += `,"error":${str(reply.error)}`;
  if (reply.error_code) json += `,"error_code":${str(reply.error_code)}`;
  if (reply.policy) json += `,"policy":${str(reply.policy)}`;
  const identity = reply.identity;
  if (identity) {
    if (identity.sub) json += `,"subject":${str(identity.sub)}`;
    if (identity.user) json += `,"user":${str(identity.user)}`;
    // DESIGN §14: the audit trail names the Client as an agent.
    if (identity.client) json += `,"client":${str(identity.client)}`;
    if (identity.introspector) json += `,"introspector":${str(identity.introspector)}`;
    // The kind of sender binding only (DESIGN §13): never the proof or the key.
    if (identity.binding) json += `,"binding":${str(identity.binding)}`;
  }
  if (reply.revision !== undefined) json += `,"revision":${reply.revision}`;
  return `${json}}`;
}

/**
 * The JSON of a check reply (DESIGN §5): the fields JSON.stringify would write, by hand.
 * `identityJson`, when given, is the JSON of `reply.identity` written earlier.
 */
export function checkReplyJson(reply: CheckReply, identityJson?: string): string {
  let json = `{"allow":${reply.allow},"status":${reply.status}`;
  if (reply.error !== undefined) json += `,"error":${str(reply.error)}`;
  if (reply.error_code !== undefined) json += `,"error_code":${str(reply.error_code)}`;
  if (reply.auth_scheme !== undefined) json += `,"auth_scheme":${str(reply.auth_scheme)}`;
  json += `,"reason":${str(reply.reason)}`;
  if (reply.policy !== undefined) json += `,"policy":${str(reply.policy)}`;
  if (reply.identity !== undefined) json += `,"identity":${identityJson ?? str(reply.identity)}`;
  if (reply.revision !== undefined) json += `,"revision":${reply.revision}`;
  if (reply.request_id !== undefined) json += `,"request_id":${str(reply.request_id)}`;
  if (reply.explain !== undefined) json += `,"explain":${str(reply.explain)}`;
  if (reply.response_check !== undefined) json += `,"response_check":${str(reply.response_check)}`;
  return `${json}}`;
}

// Date#toISOString costs ~0.5 µs; thousands of decisions share each millisecond.
let isoMs = 0;
let isoText = '';

function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/**
 * Removes the bearer token (and a DPoP proof) from explain output. A policy may match on the
 * Authorization or DPoP header, and matcho's `actual` would then echo it; explain must never
 * carry a token or a proof.
 */
export function scrubExplain(
  entries: ExplainEntry[],
  token: string | undefined,
  proof?: string,
): ExplainEntry[] {
  const secrets = [token, proof].filter((s): s is string => s !== undefined && s !== '');
  if (secrets.length === 0) return entries;
  return JSON.parse(JSON.stringify(entries), (_key, value: unknown) => {
    if (typeof value !== 'string') return value;
    let scrubbed = value;
    for (const secret of secrets)
      if (scrubbed.includes(secret)) scrubbed = scrubbed.replaceAll(secret, '[redacted]');
    return scrubbed;
  }) as ExplainEntry[];
}
