import type { ServerResponse } from 'node:http';
import { stringify } from 'yaml';
import { ApiError } from './errors.js';

/** Body formats the API reads. */
export type BodyFormat = 'json' | 'yaml' | 'form';

/** Reply formats the API writes. */
export type ReplyFormat = 'json' | 'yaml';

const YAML_TYPES = new Set(['text/yaml', 'application/yaml', 'application/x-yaml', 'text/x-yaml']);
const JSON_TYPES = new Set(['application/json', 'application/fhir+json', 'text/json']);
const FORM_TYPE = 'application/x-www-form-urlencoded';

function mediaTypeOf(header: string): { type: string; charset?: string } {
  const [type = '', ...params] = header.split(';');
  let charset: string | undefined;
  for (const param of params) {
    const [name, value] = param.split('=');
    if (name?.trim().toLowerCase() === 'charset') charset = value?.trim().replace(/^"|"$/g, '').toLowerCase();
  }
  return { type: type.trim().toLowerCase(), charset };
}

/**
 * The format of a request body from its `Content-Type`, among `accepted`. No header means JSON
 * (Aidbox does the same); anything else, or a charset other than UTF-8, is a 415.
 */
export function bodyFormat(header: string | undefined, accepted: readonly BodyFormat[]): BodyFormat {
  if (header === undefined || header.trim() === '') {
    if (accepted.includes('json')) return 'json';
    throw unsupported('(none)', accepted);
  }
  const { type, charset } = mediaTypeOf(header);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    throw new ApiError('ERR_MEDIA_TYPE_UNSUPPORTED', `charset ${charset} is not supported; send UTF-8`);
  }
  const format: BodyFormat | undefined =
    JSON_TYPES.has(type) || type.endsWith('+json')
      ? 'json'
      : YAML_TYPES.has(type)
        ? 'yaml'
        : type === FORM_TYPE
          ? 'form'
          : undefined;
  if (format === undefined || !accepted.includes(format)) throw unsupported(type, accepted);
  return format;
}

function unsupported(type: string, accepted: readonly BodyFormat[]): ApiError {
  const names = accepted.map((f) =>
    f === 'json' ? 'application/json' : f === 'yaml' ? 'text/yaml' : FORM_TYPE,
  );
  return new ApiError(
    'ERR_MEDIA_TYPE_UNSUPPORTED',
    `content type ${type} is not supported; send ${names.join(' or ')}`,
  );
}

/** YAML when `Accept` names a YAML type ahead of (or without) JSON, else JSON. */
export function replyFormat(accept: string | undefined): ReplyFormat {
  if (!accept) return 'json';
  let best: { format: ReplyFormat; q: number } | undefined;
  for (const part of accept.split(',')) {
    const { type } = mediaTypeOf(part);
    const q = Number(/;\s*q=([0-9.]+)/.exec(part)?.[1] ?? 1);
    const format: ReplyFormat | undefined = YAML_TYPES.has(type)
      ? 'yaml'
      : JSON_TYPES.has(type)
        ? 'json'
        : undefined;
    if (format && q > 0 && (!best || q > best.q)) best = { format, q };
  }
  return best?.format ?? 'json';
}

/** Writes `body` as JSON or YAML with the matching content type. */
export function sendBody(
  res: ServerResponse,
  status: number,
  body: unknown,
  format: ReplyFormat,
  headers: Record<string, string> = {},
): void {
  const text = format === 'yaml' ? stringify(body, { aliasDuplicateObjects: false }) : JSON.stringify(body);
  const type = format === 'yaml' ? 'text/yaml; charset=utf-8' : 'application/json; charset=utf-8';
  res.writeHead(status, {
    ...headers,
    'content-type': type,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}
