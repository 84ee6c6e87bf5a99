import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResponseCheck } from '@authz/protocol';
import { responseRefusal } from '@authz/smart';
import { sendOutcome } from './responses.js';

/** Media types whose bodies the check can read: JSON and every `+json` (FHIR's included). */
const JSON_MEDIA = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * A response writer for a read the worker allowed on condition (DESIGN §13: a SMART `patient/`
 * read by id, or a v2 scope constraint): the upstream's 2xx response is buffered up to
 * `maxBytes`, parsed and checked with `@authz/smart`; only a response that passes reaches the
 * client, with the bytes the upstream sent. Non-2xx answers (the upstream's own errors, 304)
 * carry no resource and pass unread. Anything the check cannot read — another media type, a
 * compressed body, a body over the bound, malformed JSON — is refused with a reason, never
 * forwarded unchecked.
 *
 * @returns the `onResponse` hook of `UpstreamProxy.forward`
 */
export function checkedResponder(
  res: ServerResponse,
  check: ResponseCheck,
  maxBytes: number,
  requestId: string,
): (upstream: IncomingMessage, headers: Record<string, string | string[]>) => void {
  return (upstream, headers) => {
    const status = upstream.statusCode ?? 502;
    if (status < 200 || status >= 300) {
      res.writeHead(status, headers);
      upstream.pipe(res);
      return;
    }
    const refuse = (code: number, why: string) => {
      upstream.destroy();
      if (!res.headersSent) sendOutcome(res, code, code === 403 ? 'forbidden' : 'exception', why, requestId);
    };
    const type = String(upstream.headers['content-type'] ?? '');
    if (!JSON_MEDIA.test(type))
      return refuse(
        502,
        `the upstream answered ${type.slice(0, 64) || 'without a content type'}; under SMART patient or constrained scopes only JSON responses can be checked (ask for application/fhir+json)`,
      );
    const encoding = String(upstream.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity')
      return refuse(
        502,
        `the upstream answered with content-encoding ${encoding.slice(0, 32)}, which the response check cannot read`,
      );
    const declared = Number(upstream.headers['content-length'] ?? 0);
    const tooLarge = `the upstream's response is larger than ${maxBytes} bytes, the most the gateway checks for SMART scopes (GATEWAY_MAX_CHECKED_RESPONSE_BYTES)`;
    if (declared > maxBytes) return refuse(502, tooLarge);
    const chunks: Buffer[] = [];
    let size = 0;
    upstream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) refuse(502, tooLarge);
      else chunks.push(chunk);
    });
    upstream.on('error', () => refuse(502, 'the upstream response broke off before it could be checked'));
    upstream.on('end', () => {
      if (size > maxBytes || res.headersSent) return;
      const raw = Buffer.concat(chunks, size);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return refuse(502, 'the upstream answered malformed JSON, which the response check cannot read');
      }
      const refusal = responseRefusal(check, body);
      if (refusal) return refuse(403, `SMART scopes do not allow this response: ${refusal}`);
      // Hop-by-hop headers (transfer-encoding) are already gone: the body now has a known length.
      res.writeHead(status, { ...headers, 'content-length': String(raw.length) }).end(raw);
    });
  };
}
