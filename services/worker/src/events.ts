import type { CheckReply, DecisionEvent, ExplainEntry } from '@authz/protocol';

/** Query parameters whose values are credentials and never leave the worker (RFC 6750 §2.3 and kin). */
const CREDENTIAL_PARAMS =
  /^(access_token|id_token|refresh_token|token|code|client_secret|password|api_key|apikey|key|secret)$/i;

/** The URI with credential-like query parameter values replaced by `[redacted]`. */
export function redactUri(uri: string): string {
  const q = uri.indexOf('?');
  if (q < 0) return uri;
  const parts = uri.slice(q + 1).split('&');
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    let decoded = name;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      // keep the raw name
    }
    if (eq >= 0 && CREDENTIAL_PARAMS.test(decoded)) {
      parts[i] = `${name}=[redacted]`;
      changed = true;
    }
  }
  return changed ? `${uri.slice(0, q)}?${parts.join('&')}` : uri;
}

/** Builds the event published on `authz.v1.decisions`. */
export function decisionEvent(
  fields: { requestId: string; method: string; uri: string; latencyMs: number; worker: string },
  reply: CheckReply,
): DecisionEvent {
  const event: DecisionEvent = {
    time: new Date().toISOString(),
    request_id: fields.requestId,
    method: fields.method,
    uri: redactUri(fields.uri),
    allow: reply.allow,
    status: reply.status,
    reason: reply.reason,
    latency: Math.round(fields.latencyMs * 1000) / 1000,
    worker: fields.worker,
  };
  if (reply.error) event.error = reply.error;
  if (reply.policy) event.policy = reply.policy;
  if (reply.identity) {
    if (reply.identity.sub) event.subject = reply.identity.sub;
    if (reply.identity.user) event.user = reply.identity.user;
    event.introspector = reply.identity.introspector;
  }
  if (reply.revision !== undefined) event.revision = reply.revision;
  return event;
}

/**
 * Removes the bearer token from explain output. A policy may match on the Authorization header,
 * and matcho's `actual` would then echo it; explain must never carry a token.
 */
export function scrubExplain(entries: ExplainEntry[], token: string | undefined): ExplainEntry[] {
  if (!token) return entries;
  return JSON.parse(JSON.stringify(entries), (_key, value: unknown) =>
    typeof value === 'string' && value.includes(token) ? value.replaceAll(token, '[redacted]') : value,
  ) as ExplainEntry[];
}
