import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isResourceType, MAX_RESOURCE_BYTES, RESOURCE_TYPES, type ResourceType } from '@authz/protocol';
import type { ConfigDeps } from '../deps.js';
import { readParsedBody } from '../http/body.js';
import { ApiError } from '../http/errors.js';
import type { Reply, RequestContext, Route } from '../http/router.js';
import { protectSecrets } from '../secrets.js';
import type { Precondition, StoredResource } from '../store/kv-store.js';
import { prepareResource } from '../validate/resource.js';

/** Default and largest page of `GET /{type}` (`_count`). */
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

// FHIR ids, minus what cannot be a NATS subject token: a leading, trailing or doubled dot would
// make the KV key `<type>.<id>` invalid.
const ID = /^(?=.{1,64}$)[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/;

/** The Aidbox-style CRUD routes over `/{type}` and `/{type}/{id}` (DESIGN §7). */
export function resourceRoutes(deps: ConfigDeps): Route[] {
  const { store, metrics } = deps;

  const write = async (
    ctx: RequestContext,
    type: ResourceType,
    id: string,
    precondition: Precondition,
    { assignedId = false } = {},
  ) => {
    const { value } = await readParsedBody(ctx.req, MAX_RESOURCE_BYTES, ['json', 'yaml']);
    // FHIR create: the server assigns the id, and an id in the body is ignored (FHIR R4 http §3.1.0.4).
    if (assignedId && isObject(value)) delete value.id;
    let resource: Record<string, unknown>;
    try {
      resource = prepareResource(type, id, value, deps.engines);
      await protectSecrets(type, resource);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'ERR_RESOURCE_INVALID')
        metrics.validationFailures.inc({ type });
      throw err;
    }
    const { revision, created } = await store.put(type, id, resource, precondition);
    metrics.kvWrites.inc({ type, op: 'put' });
    ctx.log.info({ type, id, revision, created }, created ? 'resource created' : 'resource replaced');
    const headers: Record<string, string> = { etag: etag(revision) };
    if (created) headers.location = `/${type}/${id}`;
    return {
      status: created ? 201 : 200,
      body: present({ resource, revision, updated: new Date() }),
      headers,
    };
  };

  return [
    {
      method: 'GET',
      path: '/:type',
      async handle(ctx) {
        const type = typeParam(ctx);
        const count = pageSize(ctx.url.searchParams.get('_count'));
        const { total, items } = await store.list(type, count);
        const entry = items.map((item) => ({ resource: present(item) }));
        return { status: 200, body: { resourceType: 'Bundle', type: 'searchset', total, entry } };
      },
    },
    {
      method: 'POST',
      path: '/:type',
      async handle(ctx) {
        return write(ctx, typeParam(ctx), randomUUID(), { noneMatch: true }, { assignedId: true });
      },
    },
    {
      method: 'GET',
      path: '/:type/:id',
      async handle(ctx) {
        const type = typeParam(ctx);
        const id = idParam(ctx);
        return found(await store.get(type, id), type, id);
      },
    },
    {
      method: 'PUT',
      path: '/:type/:id',
      async handle(ctx) {
        return write(ctx, typeParam(ctx), idParam(ctx), precondition(ctx.req));
      },
    },
    {
      method: 'DELETE',
      path: '/:type/:id',
      async handle(ctx) {
        const type = typeParam(ctx);
        const id = idParam(ctx);
        const deleted = await store.delete(type, id, precondition(ctx.req));
        if (deleted) {
          metrics.kvWrites.inc({ type, op: 'delete' });
          ctx.log.info({ type, id, revision: deleted.revision }, 'resource deleted');
        }
        return found(deleted, type, id);
      },
    },
  ];
}

function found(stored: StoredResource | undefined, type: string, id: string): Reply {
  if (!stored) throw new ApiError('ERR_NOT_FOUND', `${type}/${id} does not exist`);
  return { status: 200, body: present(stored), headers: { etag: etag(stored.revision) } };
}

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

function typeParam(ctx: RequestContext): ResourceType {
  const type = ctx.params.type ?? '';
  if (!isResourceType(type)) {
    throw new ApiError(
      'ERR_NOT_FOUND',
      `unknown resource type ${JSON.stringify(type)}; known: ${RESOURCE_TYPES.join(', ')}`,
    );
  }
  return type;
}

function idParam(ctx: RequestContext): string {
  const id = ctx.params.id ?? '';
  if (!ID.test(id)) {
    throw new ApiError(
      'ERR_BAD_REQUEST',
      `id ${JSON.stringify(id.slice(0, 80))} is not valid: use 1-64 of A-Z a-z 0-9 - . (no leading, trailing or doubled dot)`,
    );
  }
  return id;
}

function pageSize(raw: string | null): number {
  if (raw === null) return DEFAULT_PAGE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE) {
    throw new ApiError('ERR_BAD_REQUEST', `_count must be an integer from 0 to ${MAX_PAGE}`);
  }
  return n;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
