import { boundedFetch } from '../http/fetch.js';
import type { IntrospectorRecord } from './config.js';

/** What one introspection endpoint said about a token. */
export type IntrospectionAnswer =
  /** RFC 7662 `active: true` and not expired: `claims` is the whole response. */
  | { kind: 'active'; claims: Record<string, unknown>; exp: number | undefined }
  /** `active: false`, or active with an `exp` already past. */
  | { kind: 'inactive' }
  /** No usable answer (network, timeout, size, status, not a JSON object): the token may be valid. */
  | { kind: 'unavailable'; reason: string; cause?: unknown };

/** Limits of one call. */
export interface EndpointCallOptions {
  timeoutMs: number;
  maxResponseBytes: number;
  /** Clock in ms, for `exp`. */
  now: number;
}

/**
 * Asks one endpoint about `token` (RFC 7662 §2.1: POST, form-encoded `token`, the configured
 * client authentication). Never rejects: every failure is an `unavailable` answer naming why.
 */
export async function callIntrospectionEndpoint(
  record: IntrospectorRecord,
  token: string,
  options: EndpointCallOptions,
): Promise<IntrospectionAnswer> {
  if (record.urlProblem !== undefined) {
    return { kind: 'unavailable', reason: `is refused: introspection_endpoint.url ${record.urlProblem}` };
  }
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (record.authorization !== undefined) headers.authorization = record.authorization;
  try {
    const res = await boundedFetch(record.url, {
      method: 'POST',
      headers,
      body: new URLSearchParams({ token }).toString(),
      timeoutMs: options.timeoutMs,
      maxBytes: options.maxResponseBytes,
    });
    return interpretIntrospectionResponse(res.status, res.body, options.now);
  } catch (err) {
    // boundedFetch names only the origin in its messages: no path, query or token.
    return { kind: 'unavailable', reason: `did not answer: ${(err as Error).message}`, cause: err };
  }
}

/**
 * Reads an introspection response (RFC 7662 §2.2). Anything but a 2xx JSON object with a boolean
 * `active` is an unavailability, never "inactive": a broken endpoint must not turn a valid token
 * into a 401.
 */
export function interpretIntrospectionResponse(
  status: number,
  body: string,
  nowMs: number,
): IntrospectionAnswer {
  if (status < 200 || status > 299) return { kind: 'unavailable', reason: `answered HTTP ${status}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return { kind: 'unavailable', reason: 'answered with a body that is not JSON', cause: err };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { kind: 'unavailable', reason: 'answered with JSON that is not an object' };
  }
  const claims = parsed as Record<string, unknown>;
  if (claims.active === false) return { kind: 'inactive' };
  if (claims.active !== true) {
    return { kind: 'unavailable', reason: 'answered without a boolean "active" member (RFC 7662 §2.2)' };
  }
  const exp = claims.exp;
  if (exp === undefined) return { kind: 'active', claims, exp: undefined };
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    return {
      kind: 'unavailable',
      reason: 'answered with an "exp" that is not a NumericDate (RFC 7662 §2.2)',
    };
  }
  // The endpoint says active, but its own expiry is past (a cached or lagging answer): honour exp.
  if (exp * 1000 <= nowMs) return { kind: 'inactive' };
  return { kind: 'active', claims, exp };
}
