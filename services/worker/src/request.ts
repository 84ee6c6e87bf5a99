import { type CheckRequest, MAX_TOKEN_BYTES, wire } from '@authz/protocol';

/** A check request ready for deciding: headers lower-cased, method upper-cased. */
export interface ParsedCheck {
  request: CheckRequest & { headers: Record<string, string | string[]> };
  method: string;
  /** path without query string */
  path: string;
}

/** Parses and validates a check request body; a string is a reason for a 400. */
export function parseCheckRequest(data: Uint8Array): ParsedCheck | string {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return 'the body is not valid JSON';
  }
  if (!wire.CheckRequest.check(body)) return refusalReason(body);
  const headers: Record<string, string | string[]> = {};
  if (body.headers) {
    for (const name in body.headers) {
      const lower = name.toLowerCase();
      // JSON.parse makes "__proto__" an own key; assigning it would replace the prototype.
      if (lower !== '__proto__') headers[lower] = body.headers[name]!;
    }
  }
  // The parsed body is ours alone: its headers are replaced in place rather than copied.
  const request = body as ParsedCheck['request'];
  request.headers = headers;
  const q = body.uri.indexOf('?');
  return { request, method: body.method.toUpperCase(), path: q < 0 ? body.uri : body.uri.slice(0, q) };
}

// wire.CheckRequest decides with TypeBox's compiled check (0.07 µs a request) and words a refusal
// with ajv (lengths in code points), or TypeBox's own error when only its UTF-16 length refuses.
function refusalReason(body: unknown): string {
  const e = wire.CheckRequest.problems(body)[0];
  const where = e?.instancePath ? e.instancePath.slice(1).replaceAll('/', '.') : 'request';
  return `${where} ${e?.message ?? 'is invalid'}`;
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
