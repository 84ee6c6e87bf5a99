import type { IncomingMessage } from 'node:http';
import { BODY_METHODS, type CheckRequest, isRefusal, type RequestRefusal, refuse } from '@authz/protocol';
import { headerFields, readHead, remoteAddress, schemeOf } from './inbound.js';
import type { TrustedProxies } from './trusted-proxies.js';

/**
 * A check for nginx `auth_request` / Traefik ForwardAuth (DESIGN §8): the original method and URI
 * come from `X-Original-Method` / `X-Original-URI` (nginx) or `X-Forwarded-Method` /
 * `X-Forwarded-Uri` (Traefik). Both spellings present and disagreeing is refused (DESIGN §10: a
 * client can add one of them, the proxy sets the other). The URI passes the same target rules as
 * proxy mode. A request that does not say its URI or its method is refused (the method is never
 * assumed to be GET). The body never reaches forward-auth: a request that has one (POST, PUT,
 * PATCH, or a declared length) is checked with `body_unavailable`. Forwarding headers are believed
 * only from a trusted peer.
 */
export function forwardedCheck(
  req: IncomingMessage,
  trusted: TrustedProxies,
  given?: { method: string; uri: string },
): CheckRequest | RequestRefusal {
  const h = headerFields(req);
  // Envoy's HTTP ext_authz gives the original method and target as its own request's.
  const method = given?.method ?? original(h['x-original-method'], h['x-forwarded-method'], 'method');
  if (isRefusal(method)) return method;
  const uri = given?.uri ?? original(h['x-original-uri'], h['x-forwarded-uri'], 'URI');
  if (isRefusal(uri)) return uri;
  if (uri === undefined) {
    return refuse(
      'target_form',
      'forward-auth request lacks X-Original-URI (nginx) or X-Forwarded-Uri (Traefik); configure the proxy to send the original URI',
    );
  }
  // DESIGN §10: never assumed — a proxy that does not say the method would have a DELETE
  // checked as the GET it was taken for.
  if (method === undefined) {
    return refuse(
      'target_form',
      'forward-auth request lacks X-Original-Method (nginx) or X-Forwarded-Method (Traefik, Caddy); configure the proxy to send the original method',
    );
  }
  const head = readHead(req, uri, trusted, h);
  if (isRefusal(head)) return head;
  const check: CheckRequest = {
    method,
    uri: head.target.raw,
    headers: head.headers,
    remote_addr: remoteAddress(req, trusted, h),
    scheme: schemeOf(req, head),
  };
  const length = Number(first(h['content-length']) ?? 0);
  if (BODY_METHODS.has(check.method.toUpperCase()) || length > 0 || h['transfer-encoding'] !== undefined) {
    check.body_unavailable = 'forward-auth does not receive the request body';
  }
  return check;
}

/** The one value nginx's and Traefik's spellings agree on, or a refusal when they (or repeats) differ. */
function original(
  nginx: string | string[] | undefined,
  traefik: string | string[] | undefined,
  what: string,
): string | undefined | RequestRefusal {
  const agreed = agreeing(traefik, agreeing(nginx, undefined));
  if (agreed !== DISAGREE) return agreed;
  return refuse(
    'forwarded_disagreement',
    `forward-auth received disagreeing original ${what}s (X-Original-* and X-Forwarded-*, or a repeated header); the request is refused`,
  );
}

const DISAGREE = Symbol('disagree');

/** The value `values` and `agreed` share (empty values ignored), or {@link DISAGREE}. */
function agreeing(
  values: string | string[] | undefined,
  agreed: string | undefined | typeof DISAGREE,
): string | undefined | typeof DISAGREE {
  if (values === undefined || agreed === DISAGREE) return agreed;
  for (const value of typeof values === 'string' ? [values] : values) {
    if (value === '' || value === agreed) continue;
    if (agreed !== undefined) return DISAGREE;
    agreed = value;
  }
  return agreed;
}

function first(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}
