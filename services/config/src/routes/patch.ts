import { MAX_RESOURCE_BYTES, type ResourceType } from '@authz/protocol';
import fastJsonPatch from 'fast-json-patch';
import type { ConfigDeps } from '../deps.js';
import { readParsedBody } from '../http/body.js';
import { ApiError, invalidResource } from '../http/errors.js';
import { precondition } from '../http/resource-http.js';
import type { Reply, RequestContext } from '../http/router.js';
import { isPlainObject } from '../validate/resource.js';

/** Writes a whole resource as PUT does (validation, secret hashing, compare-and-set). */
export type WriteResource = (
  value: unknown,
  condition: { match: readonly number[] | 'any' },
) => Promise<Reply>;

/**
 * `PATCH /{type}/{id}` (DESIGN §12, Aidbox's config API): `application/merge-patch+json`
 * (RFC 7386) or `application/json-patch+json` (RFC 6902) applied to the stored resource, then
 * written exactly as a PUT of the result. `If-Match` makes it conditional; without one the write
 * still only succeeds if nobody changed the resource since it was read (no lost update).
 */
export async function patchResource(
  deps: ConfigDeps,
  ctx: RequestContext,
  type: ResourceType,
  id: string,
  write: WriteResource,
): Promise<Reply> {
  const contentType = (ctx.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/merge-patch+json' && contentType !== 'application/json-patch+json') {
    throw new ApiError(
      'ERR_MEDIA_TYPE_UNSUPPORTED',
      `PATCH takes application/merge-patch+json (RFC 7386) or application/json-patch+json (RFC 6902), not ${contentType || '(none)'}`,
    );
  }
  const { value: patch } = await readParsedBody(ctx.req, MAX_RESOURCE_BYTES, ['json']);
  const stored = await deps.store.get(type, id);
  if (!stored) throw new ApiError('ERR_NOT_FOUND', `${type}/${id} does not exist`);
  const asked = precondition(ctx.req).match;
  if (asked !== undefined && asked !== 'any' && !asked.includes(stored.revision)) {
    throw new ApiError(
      'ERR_PRECONDITION_FAILED',
      `${type}/${id} is at revision ${stored.revision}, not ${asked.join(', ')}`,
    );
  }
  const patched =
    contentType === 'application/merge-patch+json'
      ? mergePatch(structuredClone(stored.resource), patch)
      : jsonPatch(structuredClone(stored.resource), patch);
  return write(patched, { match: [stored.revision] });
}

/** RFC 7386 §2: objects merge recursively, `null` removes a member, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? target : {};
  for (const [name, value] of Object.entries(patch)) {
    if (name === '__proto__') continue;
    if (value === null) delete out[name];
    else out[name] = mergePatch(out[name], value);
  }
  return out;
}

function jsonPatch(document: Record<string, unknown>, patch: unknown): unknown {
  if (!Array.isArray(patch))
    throw invalidResource([
      { code: 'structure', diagnostics: 'a JSON Patch is a list of operations (RFC 6902 §3)' },
    ]);
  try {
    // validate: every operation is checked before any is applied; `test` failing is a 422 too.
    return fastJsonPatch.applyPatch(document, patch, true, true, true).newDocument;
  } catch (err) {
    const e = err as { name?: string; message?: string; index?: number };
    const at = e.index === undefined ? '' : ` (operation ${e.index})`;
    throw invalidResource([
      {
        code: 'processing',
        diagnostics: `the JSON Patch cannot be applied${at}: ${(e.message ?? '').split('\n')[0]}`,
      },
    ]);
  }
}
