import type { IncomingMessage } from 'node:http';
import { parseDocument } from 'yaml';
import { ApiError } from './errors.js';
import { type BodyFormat, bodyFormat } from './negotiate.js';

/** Deepest nesting a body may have: engines and validators recurse, so depth is bounded here. */
export const MAX_BODY_DEPTH = 64;

/** Alias expansions a YAML body may make; a handful is plenty for config and stops alias bombs. */
export const MAX_YAML_ALIASES = 16;

/**
 * Reads a request body up to `maxBytes`. A declared `Content-Length` over the limit is refused
 * before reading; a streamed body is refused as soon as it crosses the limit, so an oversized
 * body is never held in memory.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        chunks.length = 0;
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new ApiError('ERR_BAD_REQUEST', 'the request body could not be read', { cause: err }));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError('ERR_BODY_TOO_LARGE', `the request body exceeds ${maxBytes} bytes`);
}

/**
 * Reads and parses a body in one of the `accepted` formats, chosen by `Content-Type` (JSON when
 * absent). Unparsable bodies are 400 with the line and column of the first problem.
 */
export async function readParsedBody(
  req: IncomingMessage,
  maxBytes: number,
  accepted: readonly BodyFormat[],
): Promise<{ value: unknown; format: BodyFormat }> {
  const format = bodyFormat(req.headers['content-type'], accepted);
  const raw = await readBody(req, maxBytes);
  const text = decodeUtf8(raw);
  if (text.trim() === '') throw new ApiError('ERR_BODY_UNPARSABLE', 'the request body is empty');
  const value = format === 'yaml' ? parseYaml(text) : format === 'form' ? parseForm(text) : parseJson(text);
  checkValue(value);
  return { value, format };
}

function decodeUtf8(raw: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(raw);
  } catch (err) {
    throw new ApiError('ERR_BODY_UNPARSABLE', 'the request body is not valid UTF-8', { cause: err });
  }
}

/** Parses JSON; the error names the line and column (V8 only gives an offset). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const offset = /position (\d+)/.exec(message)?.[1];
    const where = offset === undefined ? 'JSON error' : `JSON error at ${lineColumn(text, Number(offset))}`;
    throw new ApiError('ERR_BODY_UNPARSABLE', `${where}: ${message}`, { cause: err });
  }
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

/**
 * Parses one YAML 1.2 document (core schema). Duplicate keys, several documents, unknown tags,
 * and alias expansion past {@link MAX_YAML_ALIASES} are errors, reported with line and column.
 */
export function parseYaml(text: string): unknown {
  const doc = parseDocument(text, {
    uniqueKeys: true,
    prettyErrors: true,
    strict: true,
    schema: 'core',
    merge: false,
    // 'error' collects problems without printing; 'silent' would drop some of them (multiple docs).
    logLevel: 'error',
  });
  // Warnings (an unresolved tag, say) mean the value is not what the author wrote: refuse them too.
  const first = doc.errors[0] ?? doc.warnings[0];
  if (first) {
    const pos = first.linePos?.[0];
    const where = pos ? `YAML error at line ${pos.line}, column ${pos.col}` : 'YAML error';
    // prettyErrors appends the position and a source excerpt; the sentence is enough here.
    const sentence = (first.message.split('\n')[0] ?? first.message).replace(
      / at line \d+, column \d+:?$/,
      '',
    );
    throw new ApiError('ERR_BODY_UNPARSABLE', `${where}: ${sentence}`, { cause: first });
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ApiError('ERR_BODY_UNPARSABLE', `YAML error: ${message}`, { cause: err });
  }
}

/** Parses `application/x-www-form-urlencoded`; a repeated field is refused as ambiguous. */
export function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [key, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(out, key)) {
      throw new ApiError('ERR_BODY_UNPARSABLE', `form field ${JSON.stringify(key)} is repeated`);
    }
    out[key] = value;
  }
  return out;
}

/**
 * Refuses bodies nested deeper than {@link MAX_BODY_DEPTH} and values JSON cannot carry
 * (non-finite numbers, YAML binaries): what is stored must read back exactly as accepted.
 */
function checkValue(value: unknown, depth = 0, path = '$'): void {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new ApiError('ERR_BODY_UNPARSABLE', `${path}: ${value} is not a JSON number`);
  }
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_BODY_DEPTH) {
    throw new ApiError('ERR_BODY_UNPARSABLE', `the body is nested deeper than ${MAX_BODY_DEPTH} levels`);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkValue(value[i], depth + 1, `${path}[${i}]`);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new ApiError('ERR_BODY_UNPARSABLE', `${path}: only JSON values are accepted`);
  }
  for (const [key, item] of Object.entries(value)) checkValue(item, depth + 1, `${path}.${key}`);
}
