import type { ServerResponse } from 'node:http';
import { type CheckReply, DPOP_ALGORITHMS, type IssueCode, operationOutcome } from '@authz/protocol';

/** Identity headers the gateway sets; copies sent by clients are always stripped. */
export const IDENTITY_HEADERS = [
  'x-authz-user',
  'x-authz-subject',
  'x-authz-policy',
  'x-authz-assertion',
] as const;

const ISSUE_CODES: Record<number, IssueCode> = {
  400: 'invalid',
  401: 'login',
  403: 'forbidden',
  413: 'too-long',
  414: 'too-long',
  431: 'too-long',
  503: 'transient',
};

/** Identity headers of an allowing reply. */
export function identityHeaders(reply: CheckReply): Record<string, string> {
  const headers: Record<string, string> = {};
  if (reply.identity?.user) headers['x-authz-user'] = headerSafe(reply.identity.user);
  if (reply.identity?.sub) headers['x-authz-subject'] = headerSafe(reply.identity.sub);
  if (reply.policy) headers['x-authz-policy'] = headerSafe(reply.policy);
  return headers;
}

/**
 * Answers a denied check: the decision's status, an OperationOutcome body, and on 401 an
 * RFC 6750 §3 `WWW-Authenticate: Bearer` challenge.
 */
export function sendDenial(res: ServerResponse, reply: CheckReply, requestId: string): void {
  const denial = denialOf(reply);
  res.writeHead(denial.status, { ...denial.headers, 'x-request-id': requestId }).end(denial.body);
}

/** The HTTP answer to a denied check, whichever entry point (HTTP or ext_authz gRPC) sends it. */
export interface Denial {
  status: number;
  /** lower-case names */
  headers: Record<string, string>;
  /** OperationOutcome JSON */
  body: string;
}

/** The one builder of a denial: status, `WWW-Authenticate` on 401, OperationOutcome body. */
export function denialOf(reply: CheckReply): Denial {
  const headers: Record<string, string> = {
    'content-type': 'application/fhir+json',
    'cache-control': 'no-store',
  };
  if (reply.status === 401) headers['www-authenticate'] = bearerChallenge(reply);
  if (reply.status === 503) headers['retry-after'] = '1';
  const body = operationOutcome([
    { code: ISSUE_CODES[reply.status] ?? 'exception', diagnostics: reply.reason },
  ]);
  return { status: reply.status, headers, body: JSON.stringify(body) };
}

/** Answers with an OperationOutcome for failures of the gateway itself (bad forward-auth input, upstream down). */
export function sendOutcome(
  res: ServerResponse,
  status: number,
  code: IssueCode,
  diagnostics: string,
  requestId: string,
): void {
  res
    .writeHead(status, { 'content-type': 'application/fhir+json', 'x-request-id': requestId })
    .end(JSON.stringify(operationOutcome([{ code, diagnostics }])));
}

const DPOP_ALGS = DPOP_ALGORITHMS.join(' ');

/**
 * `Bearer realm="authz", error="…", error_description="…"` with the description made
 * quoted-string safe; `DPoP algs="…", error="…", …` when the reply asks for a DPoP challenge
 * (RFC 9449 §7.1: a DPoP request, or a DPoP-bound token sent as Bearer).
 */
export function bearerChallenge(reply: CheckReply): string {
  const error = reply.error ?? 'invalid_token';
  const description = headerSafe(reply.reason).replace(/["\\]/g, "'");
  if (reply.auth_scheme === 'DPoP') {
    return `DPoP realm="authz", algs="${DPOP_ALGS}", error="${error}", error_description="${description}"`;
  }
  return `Bearer realm="authz", error="${error}", error_description="${description}"`;
}

/** Printable ASCII only: header values must never let a claim inject a header line. */
export function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 512);
}
