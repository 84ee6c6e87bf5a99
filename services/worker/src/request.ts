import {
  type CanonicalCheck,
  type CheckRequest,
  canonicalCheck,
  checkParsedJson,
  isRefusal,
  MAX_JSON_DEPTH,
  MAX_TOKEN_BYTES,
  type RequestRefusal,
  refuse,
  wire,
} from '@authz/protocol';

/** A check request ready for deciding: in canonical form (DESIGN §10), method upper-cased. */
export interface ParsedCheck {
  request: CheckRequest & { headers: Record<string, string | string[]> };
  /** target, headers and body availability as every policy context is built from them */
  canonical: CanonicalCheck;
  method: string;
  /** the decoded path, without query string */
  path: string;
}

/**
 * Parses and validates a check request body. A string is a reason for a 400 about the message's
 * shape; a RequestRefusal is a request the rules of DESIGN §10 refuse, whoever sent it: the worker
 * is the last line, so it applies them whatever a gateway checked before.
 */
export function parseCheckRequest(data: Uint8Array): ParsedCheck | RequestRefusal | string {
  let body: unknown;
  let text: string;
  try {
    text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
    body = JSON.parse(text);
  } catch {
    return 'the body is not valid JSON';
  }
  if (!wire.CheckRequest.check(body)) return refusalReason(body);
  const canonical = canonicalCheck(body);
  if (isRefusal(canonical)) return canonical;
  if (body.body !== undefined) {
    // A body arrives parsed: duplicate keys in it would have been settled silently by JSON.parse.
    // Its depth is checked already; the request object and a header list add two levels.
    const problem = checkParsedJson(text, body, MAX_JSON_DEPTH + 2);
    if (problem !== undefined) return refuse('body_json', `the check request is refused: ${problem}`);
  }
  // The parsed body is ours alone: its headers are replaced in place rather than copied.
  const request = body as ParsedCheck['request'];
  request.headers = canonical.headers;
  return { request, canonical, method: body.method.toUpperCase(), path: canonical.target.path };
}

// wire.CheckRequest decides with TypeBox's compiled check (0.07 µs a request) and words a refusal
// with ajv (lengths in code points), or TypeBox's own error when only its UTF-16 length refuses.
function refusalReason(body: unknown): string {
  const e = wire.CheckRequest.problems(body)[0];
  const where = e?.instancePath ? e.instancePath.slice(1).replaceAll('/', '.') : 'request';
  return `${where} ${e?.message ?? 'is invalid'}`;
}

/**
 * The search parameters of a request as one query string: the query's, then a POST form body's
 * (`body_form`), the order servlet containers and Ring read them in (DESIGN §10).
 *
 * @example searchQuery('name=x', '_revinclude=Encounter:subject') // 'name=x&_revinclude=Encounter:subject'
 */
export function searchQuery(query: string, form: string | undefined): string {
  if (form === undefined || form === '') return query;
  return query === '' ? form : `${query}&${form}`;
}

/** The bearer credential of a request (RFC 6750 §2.1), or why the Authorization header is unusable. */
export type BearerResult = { token: string } | { none: true } | { problem: string };

const NONE: BearerResult = { none: true };

/** Extracts the bearer token; the scheme is case-insensitive (RFC 7235 §2.1). */
export function bearerToken(headers: Record<string, string | string[]>): BearerResult {
  const raw = headers.authorization;
  if (raw === undefined) return NONE;
  if (Array.isArray(raw)) return { problem: 'the request carries more than one Authorization header' };
  const value = raw.trim();
  if (value === '') return NONE;
  const space = value.indexOf(' ');
  const scheme = space < 0 ? value : value.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') {
    return {
      problem: `Authorization scheme "${scheme.slice(0, 20)}" is not supported; send "Bearer <token>"`,
    };
  }
  const token = space < 0 ? '' : value.slice(space + 1).trim();
  if (token === '') return { problem: 'the Authorization header says Bearer but carries no token' };
  if (token.length > MAX_TOKEN_BYTES)
    return { problem: `the bearer token is longer than ${MAX_TOKEN_BYTES} bytes` };
  return { token };
}
