import { randomUUID } from 'node:crypto';
import { MAX_RESOURCE_BYTES, type ResourceType, type TokenIntrospector } from '@authz/protocol';
import type { ConfigDeps } from '../deps.js';
import { readParsedBody } from '../http/body.js';
import { ApiError, invalidResource } from '../http/errors.js';
import {
  etag,
  pageSize,
  precondition,
  present,
  resourceIdParam,
  resourceTypeParam,
} from '../http/resource-http.js';
import type { Reply, RequestContext, Route } from '../http/router.js';
import { protectSecrets } from '../secrets.js';
import type { Precondition, StoredResource } from '../store/kv-store.js';
import { isPlainObject, prepareResource } from '../validate/resource.js';
import { patchResource } from './patch.js';

/**
 * The Aidbox-style CRUD routes over `/{type}` and `/{type}/{id}` (DESIGN §7), also under `/fhir`
 * (DESIGN §12: Aidbox users' scripts write `PUT /fhir/AccessPolicy/x`), and `PATCH`.
 */
export function resourceRoutes(deps: ConfigDeps): Route[] {
  return ['', '/fhir'].flatMap((prefix) => routesUnder(deps, prefix));
}

function routesUnder(deps: ConfigDeps, prefix: string): Route[] {
  const type = (ctx: RequestContext) => resourceTypeParam(ctx.params.type);
  const id = (ctx: RequestContext) => resourceIdParam(ctx.params.id);
  return [
    { method: 'GET', path: `${prefix}/:type`, handle: (ctx) => search(deps, type(ctx), ctx) },
    // FHIR create: the server assigns the id; an id in the body is ignored (FHIR R4 http, create).
    {
      method: 'POST',
      path: `${prefix}/:type`,
      handle: (ctx) => write(deps, ctx, type(ctx), randomUUID(), { noneMatch: true }, true),
    },
    { method: 'GET', path: `${prefix}/:type/:id`, handle: (ctx) => read(deps, type(ctx), id(ctx)) },
    {
      method: 'PUT',
      path: `${prefix}/:type/:id`,
      handle: (ctx) => write(deps, ctx, type(ctx), id(ctx), precondition(ctx.req), false),
    },
    {
      method: 'PATCH',
      path: `${prefix}/:type/:id`,
      handle: (ctx) =>
        patchResource(deps, ctx, type(ctx), id(ctx), (value, condition) =>
          writeValue(deps, ctx, type(ctx), id(ctx), value, condition),
        ),
    },
    { method: 'DELETE', path: `${prefix}/:type/:id`, handle: (ctx) => remove(deps, ctx, type(ctx), id(ctx)) },
  ];
}

async function search(deps: ConfigDeps, type: ResourceType, ctx: RequestContext): Promise<Reply> {
  const count = pageSize(ctx.url.searchParams.get('_count'));
  const { total, items } = await deps.store.list(type, count);
  const entry = items.map((item) => ({ resource: present(item) }));
  return { status: 200, body: { resourceType: 'Bundle', type: 'searchset', total, entry } };
}

async function read(deps: ConfigDeps, type: ResourceType, id: string): Promise<Reply> {
  return found(await deps.store.get(type, id), type, id);
}

/** PUT and POST: parse, validate as a whole, hash secrets, then one compare-and-set write. */
async function write(
  deps: ConfigDeps,
  ctx: RequestContext,
  type: ResourceType,
  id: string,
  condition: Precondition,
  assignedId: boolean,
): Promise<Reply> {
  const { value } = await readParsedBody(ctx.req, MAX_RESOURCE_BYTES, ['json', 'yaml']);
  if (assignedId && isPlainObject(value)) delete value.id;
  return writeValue(deps, ctx, type, id, value, condition);
}

/** Validates `value` as a whole, hashes its secrets, then one compare-and-set write. */
async function writeValue(
  deps: ConfigDeps,
  ctx: RequestContext,
  type: ResourceType,
  id: string,
  value: unknown,
  condition: Precondition,
): Promise<Reply> {
  let resource: Record<string, unknown>;
  try {
    resource = prepareResource(type, id, value, deps.engines);
    if (type === 'TokenIntrospector') {
      const issues = await deps.engines.resolvedHostIssues(resource as TokenIntrospector);
      if (issues.length > 0) throw invalidResource(issues);
    }
    await protectSecrets(type, resource);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'ERR_RESOURCE_INVALID')
      deps.metrics.validationFailures.inc({ type });
    throw err;
  }
  const warnings = type === 'TokenIntrospector' ? await introspectorWarnings(deps, resource) : [];
  const { revision, created } = await deps.store.put(type, id, resource, condition);
  deps.metrics.kvWrites.inc({ type, op: 'put' });
  ctx.log.info({ type, id, revision, created }, created ? 'resource created' : 'resource replaced');
  const headers: Record<string, string> = { etag: etag(revision) };
  if (warnings.length > 0) {
    ctx.log.warn({ type, id, warnings }, 'resource stored with warnings');
    headers['x-authz-warning'] = warningHeader(warnings);
  }
  if (created) headers.location = `/${type}/${id}`;
  const body = present({ resource, revision, updated: new Date() });
  return { status: created ? 201 : 200, body, headers };
}

/** Most TokenIntrospectors looked at for the warnings; more than this is no ordinary setup. */
const MAX_INTROSPECTORS_COMPARED = 1000;

/** DESIGN §11's accepted risks of storing this introspector beside the stored ones. */
async function introspectorWarnings(deps: ConfigDeps, resource: Record<string, unknown>): Promise<string[]> {
  const { items } = await deps.store.list('TokenIntrospector', MAX_INTROSPECTORS_COMPARED);
  const others = items.map((item) => item.resource as TokenIntrospector);
  return deps.engines.introspectorWarnings(resource as TokenIntrospector, others);
}

/**
 * `X-Authz-Warning` in the shape of RFC 7234 §5.5 `Warning` (299, "miscellaneous persistent
 * warning"): one quoted text per warning, comma-separated, ASCII only as header values must be.
 */
export function warningHeader(warnings: readonly string[]): string {
  return warnings
    .map((w) => `299 authz "${w.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, "'")}"`)
    .join(', ');
}

async function remove(deps: ConfigDeps, ctx: RequestContext, type: ResourceType, id: string): Promise<Reply> {
  const deleted = await deps.store.delete(type, id, precondition(ctx.req));
  if (deleted) {
    deps.metrics.kvWrites.inc({ type, op: 'delete' });
    ctx.log.info({ type, id, revision: deleted.revision }, 'resource deleted');
  }
  return found(deleted, type, id);
}

function found(stored: StoredResource | undefined, type: string, id: string): Reply {
  if (!stored) throw new ApiError('ERR_NOT_FOUND', `${type}/${id} does not exist`);
  return { status: 200, body: present(stored), headers: { etag: etag(stored.revision) } };
}
