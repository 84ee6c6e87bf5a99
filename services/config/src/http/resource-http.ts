import type { IncomingMessage } from 'node:http';
import { isResourceType, RESOURCE_TYPES, type ResourceType } from '@authz/protocol';
import type { Precondition, StoredResource } from '../store/kv-store.js';
import { ApiError } from './errors.js';

/** Default and largest page of `GET /{type}` (`_count`). */
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

// FHIR ids, minus what cannot be a NATS subject token: a leading, trailing or doubled dot would
// make the KV key `<type>.<id>` invalid.
const ID = /^(?=.{1,255}$)[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/;

/** A stored resource as the API shows it: `meta.versionId` is the KV revision. */
export function present({ resource, revision, updated }: StoredResource): Record<string, unknown> {
  const meta = typeof resource.meta === 'object' && resource.meta !== null ? resource.meta : {};
  return { ...resource, meta: { ...meta, versionId: String(revision), lastUpdated: updated.toISOString() } };
}

/** A weak ETag carrying the KV revision, FHIR style: `W/"42"`. */
export function etag(revision: number): string {
  return `W/"${revision}"`;
}

/**
 * Reads `If-Match` / `If-None-Match` (RFC 9110 §13.1). Tags this server never issued simply
 * match nothing, so a write with only such tags fails with 412.
 */
export function precondition(req: IncomingMessage): Precondition {
  const out: Precondition = {};
  const ifMatch = req.headers['if-match'];
  if (ifMatch !== undefined) {
    const tags = ifMatch.split(',').map((t) => t.trim());
    out.match = tags.includes('*')
      ? 'any'
      : tags
          .map((t) => Number(/^(?:W\/)?"?(\d+)"?$/.exec(t)?.[1] ?? Number.NaN))
          .filter(Number.isSafeInteger);
  }
  if (req.headers['if-none-match']?.trim() === '*') out.noneMatch = true;
  return out;
}

/** The `{type}` path segment; 404 for types this service does not store. */
export function resourceTypeParam(raw: string | undefined): ResourceType {
  const type = raw ?? '';
  if (!isResourceType(type)) {
    throw new ApiError(
      'ERR_NOT_FOUND',
      `unknown resource type ${JSON.stringify(type.slice(0, 80))}; known: ${RESOURCE_TYPES.join(', ')}`,
    );
  }
  return type;
}

/** The `{id}` path segment; 400 unless it is a FHIR id that is also a valid KV key. */
export function resourceIdParam(raw: string | undefined): string {
  const id = raw ?? '';
  if (!ID.test(id)) {
    throw new ApiError(
      'ERR_BAD_REQUEST',
      `id ${JSON.stringify(id.slice(0, 80))} is not valid: use 1-255 of A-Z a-z 0-9 - . (no leading, trailing or doubled dot)`,
    );
  }
  return id;
}

/** `_count` of a search: {@link DEFAULT_PAGE} when absent, 400 outside 0..{@link MAX_PAGE}. */
export function pageSize(raw: string | null): number {
  if (raw === null) return DEFAULT_PAGE;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 0 || n > MAX_PAGE) {
    throw new ApiError('ERR_BAD_REQUEST', `_count must be an integer from 0 to ${MAX_PAGE}`);
  }
  return n;
}
