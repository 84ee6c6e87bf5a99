import type { IncomingMessage } from 'node:http';
import { type CheckRequest, isRefusal, isReservedHeader, type RequestRefusal } from '@authz/protocol';
import { forwardedCheck } from '../forward-auth.js';
import type { TrustedProxies } from '../trusted-proxies.js';
import { PARTIAL_BODY_HEADER, wholeBodyProblem } from './body.js';
import { joinedCredential } from './joined-headers.js';

/** Envoy's HTTP ext_authz `path_prefix` (DESIGN §14): the original path follows it. */
export const ENVOY_HTTP_PREFIX = '/_authz/envoy';

/**
 * Envoy's header telling its HTTP ext_authz filter which request headers to remove before the
 * request goes upstream (the HTTP form of `OkHttpResponse.headers_to_remove`).
 */
export const HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';

/** A check from Envoy's HTTP ext_authz filter, with what the answer and the body reader need. */
export interface EnvoyHttpCheck {
  check: CheckRequest;
  /** client-sent headers named like identity headers (`x-authz-*`, `_` variants), for removal */
  identityLike: string[];
  /**
   * Why the body Envoy sent cannot be shown whole (DESIGN §10), when it sent one: then it is
   * not read, and the check keeps `body_unavailable`.
   */
  bodyProblem?: string;
}

/**
 * The check for a request from Envoy's HTTP ext_authz filter: the method is the original one,
 * the target is what follows `/_authz/envoy`, the rest as for `/_authz/forward` (the same target,
 * header and trusted-proxy rules, refusals with their own status), and a credential header Envoy
 * joined from two is refused ({@link joinedCredential}). Client-sent identity-like
 * headers are listed so the answer can have Envoy remove them.
 */
export function envoyHttpCheck(
  req: IncomingMessage,
  url: string,
  trusted: TrustedProxies,
): EnvoyHttpCheck | RequestRefusal {
  const check = forwardedCheck(req, trusted, {
    method: req.method ?? 'GET',
    uri: url.slice(ENVOY_HTTP_PREFIX.length),
  });
  if (isRefusal(check)) return check;
  const joined = joinedCredential(check.headers ?? {});
  if (joined !== undefined) return joined;
  const identityLike = Object.keys(req.headers).filter(isReservedHeader);
  const sent =
    Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  // The authz request's own Content-Length is the length Envoy sent, never the client's: only
  // Envoy's marker says whether that is the whole body.
  const bodyProblem = sent ? wholeBodyProblem(req.headers[PARTIAL_BODY_HEADER], 0, undefined) : undefined;
  return bodyProblem === undefined ? { check, identityLike } : { check, identityLike, bodyProblem };
}
