import type { IncomingMessage } from 'node:http';
import { type CheckRequest, isRefusal } from '@authz/protocol';
import { forwardedCheck } from '../forward-auth.js';
import type { TrustedProxies } from '../trusted-proxies.js';
import { isIdentityLike } from './attributes.js';
import { targetProblem } from './target.js';

/** Envoy's HTTP ext_authz `path_prefix` (DESIGN §14): the original path follows it. */
export const ENVOY_HTTP_PREFIX = '/_authz/envoy';

/**
 * Envoy's header telling its HTTP ext_authz filter which request headers to remove before the
 * request goes upstream (the HTTP form of `OkHttpResponse.headers_to_remove`).
 */
export const HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';

/**
 * The check for a request from Envoy's HTTP ext_authz filter: the method is the original one,
 * the target is what follows `/_authz/envoy`, the rest as for `/_authz/forward`. Client-sent
 * identity-like headers are listed so the answer can have Envoy remove them. A string is a 400.
 */
export function envoyHttpCheck(
  req: IncomingMessage,
  url: string,
  trusted: TrustedProxies,
): { check: CheckRequest; identityLike: string[] } | string {
  const uri = url.slice(ENVOY_HTTP_PREFIX.length);
  const problem = targetProblem(uri);
  if (problem) return problem;
  const check = forwardedCheck(req, trusted, { method: req.method ?? 'GET', uri });
  if (isRefusal(check)) return check.reason;
  const identityLike = Object.keys(req.headers).filter(isIdentityLike);
  for (const name of identityLike) delete check.headers?.[name];
  return { check, identityLike };
}
