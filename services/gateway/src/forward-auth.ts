import type { IncomingMessage } from 'node:http';
import { type CheckRequest, isRefusal, isReservedHeader, type RequestRefusal, refuse } from '@authz/protocol';
import { type HeaderFields, headerFields, readHead, remoteAddress, schemeOf } from './inbound.js';
import type { TrustedProxies } from './trusted-proxies.js';

/**
 * A check for nginx `auth_request` / Traefik ForwardAuth (DESIGN §8): the original method and URI
 * come from `X-Original-Method` / `X-Original-URI` (nginx) or `X-Forwarded-Method` /
 * `X-Forwarded-Uri` (Traefik). Both spellings present and disagreeing is refused (DESIGN §10: a
 * client can add one of them, the proxy sets the other). The URI passes the same target rules as
 * proxy mode. A request that does not say its URI or its method is refused (the method is never
 * assumed to be GET). The body never reaches forward-auth, and whether there was one cannot be told either
 * (nginx's auth_request drops the Content-Length, Traefik and Caddy send neither it nor
 * Transfer-Encoding; Envoy's HTTP filter sends its own): every check is made with
 * `body_unavailable`, whatever the method — a GET's form body is read as parameters by Ring, so
 * "a GET has no body" is a guess. Envoy's entry shows the body where Envoy sent it whole.
 * Forwarding headers are believed only from a trusted peer.
 */
export function forwardedCheck(
  req: IncomingMessage,
  trusted: TrustedProxies,
  given?: { method: string; uri: string },
): CheckRequest | RequestRefusal {
  const h = headerFields(req);
  // Envoy's entry removes such headers itself (headers_to_remove); a forward-auth answer cannot.
  if (given === undefined) {
    const spelled = underscoredIdentityHeader(h);
    if (spelled !== undefined) return spelled;
  }
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
  check.body_unavailable = FORWARD_AUTH_BODY;
  return check;
}

/**
 * A client-sent header spelled like an identity header with `_` (`X_Authz_User`), refused: CGI,
 * WSGI, Rack and PHP read it as `X-Authz-User`, the documented proxy configurations overwrite only
 * the `-` spellings, and a forward-auth answer cannot have the proxy remove a header (DESIGN §10).
 * nginx drops such names by default (`underscores_in_headers off`); Caddy and Traefik pass them.
 */
function underscoredIdentityHeader(h: HeaderFields): RequestRefusal | undefined {
  for (const name in h) {
    if (name.indexOf('_') !== -1 && isReservedHeader(name)) {
      return refuse(
        'header_ambiguous',
        `the request carries ${name}, an identity header's name spelled with an underscore (CGI, WSGI, Rack and PHP read it as ${name.replaceAll('_', '-')}); forward-auth cannot remove it from the request the proxy forwards: drop it, or have the proxy reject header names with underscores`,
      );
    }
  }
  return undefined;
}

/** Why policies cannot see the body of a forward-auth check, whatever its method. */
export const FORWARD_AUTH_BODY = 'forward-auth does not receive the request body';

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
