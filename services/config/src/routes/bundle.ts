import { randomUUID } from 'node:crypto';
import { MAX_RESOURCE_BYTES, operationOutcome } from '@authz/protocol';
import { planResources, writePlan } from '../bundle/plan.js';
import type { ConfigDeps } from '../deps.js';
import { readParsedBody } from '../http/body.js';
import { ApiError, type ApiIssue, invalidResource } from '../http/errors.js';
import type { Reply, RequestContext, Route } from '../http/router.js';
import { isPlainObject } from '../validate/resource.js';

/**
 * `POST /` and `POST /fhir` with a Bundle of configuration resources (DESIGN §12, Aidbox's init
 * scripts): `transaction` validates every entry first — one invalid entry stores nothing and the
 * 422 names it (`Bundle.entry[2].resource.engine`) — then writes each conditionally on what it
 * saw, answered with a `transaction-response`; `batch` writes entry by entry, each with its own
 * status in a `batch-response`. Entries are `PUT`/`POST` of `{resource}` (`request.url` may name
 * the type and id).
 */
export function bundleRoutes(deps: ConfigDeps): Route[] {
  return ['/', '/fhir'].map((path) => ({
    method: 'POST' as const,
    path,
    handle: (ctx: RequestContext) => postBundle(deps, ctx),
  }));
}

async function postBundle(deps: ConfigDeps, ctx: RequestContext): Promise<Reply> {
  const { value } = await readParsedBody(ctx.req, MAX_RESOURCE_BYTES, ['json', 'yaml']);
  if (!isPlainObject(value) || value.resourceType !== 'Bundle')
    throw invalidResource([
      { code: 'structure', diagnostics: 'the body must be a Bundle', expression: 'Bundle' },
    ]);
  if (value.type !== 'batch' && value.type !== 'transaction')
    throw invalidResource([
      { code: 'value', diagnostics: 'Bundle.type must be batch or transaction', expression: 'Bundle.type' },
    ]);
  const entries = Array.isArray(value.entry) ? value.entry : [];
  if (value.type === 'transaction') {
    const issues: ApiIssue[] = [];
    const resources = entries.map((entry, i) => resourceOf(entry, i, issues));
    if (issues.length > 0) throw invalidResource(issues);
    const plan = await planResources(deps, resources);
    await writePlan(deps, plan);
    ctx.log.info({ entries: plan.length }, 'transaction Bundle applied');
    return {
      status: 200,
      body: {
        resourceType: 'Bundle',
        type: 'transaction-response',
        entry: plan.map((p) => ({ response: { status: status(p.action), location: `${p.type}/${p.id}` } })),
      },
    };
  }
  const results = [];
  for (let i = 0; i < entries.length; i++) results.push(await batchEntry(deps, entries[i], i));
  return { status: 200, body: { resourceType: 'Bundle', type: 'batch-response', entry: results } };
}

async function batchEntry(deps: ConfigDeps, entry: unknown, index: number): Promise<Record<string, unknown>> {
  try {
    const issues: ApiIssue[] = [];
    const resource = resourceOf(entry, index, issues);
    if (issues.length > 0) throw invalidResource(issues);
    const [planned] = await planResources(deps, [resource]);
    if (planned === undefined) throw new ApiError('ERR_INTERNAL', 'nothing was planned');
    await writePlan(deps, [planned]);
    return { response: { status: status(planned.action), location: `${planned.type}/${planned.id}` } };
  } catch (err) {
    if (!(err instanceof ApiError) || err.status >= 500) throw err;
    // planResources names `Bundle.entry[0]` for a one-resource plan: name this entry instead.
    const issues = err.issues.map((i) => ({
      ...i,
      expression: i.expression?.replace(/^Bundle\.entry\[0\]/, `Bundle.entry[${index}]`),
    }));
    return { response: { status: String(err.status), outcome: operationOutcome(issues) } };
  }
}

function status(action: 'create' | 'replace' | 'unchanged'): string {
  return action === 'create' ? '201 Created' : '200 OK';
}

/** The resource an entry writes; `request.url` (`AccessPolicy/x`, `/fhir/Role/r`) fills type and id. */
function resourceOf(entry: unknown, index: number, issues: ApiIssue[]): unknown {
  const at = `Bundle.entry[${index}]`;
  if (!isPlainObject(entry) || !isPlainObject(entry.resource)) {
    issues.push({
      code: 'required',
      diagnostics: 'each entry needs a resource',
      expression: `${at}.resource`,
    });
    return undefined;
  }
  const resource = { ...entry.resource };
  const request = isPlainObject(entry.request) ? entry.request : {};
  const method = typeof request.method === 'string' ? request.method.toUpperCase() : 'PUT';
  if (method !== 'PUT' && method !== 'POST') {
    issues.push({
      code: 'not-supported',
      diagnostics: 'only PUT and POST entries are supported',
      expression: `${at}.request.method`,
    });
  }
  const url = typeof request.url === 'string' ? request.url.replace(/^\/(fhir\/)?/, '') : '';
  const [type, id] = url === '' ? [] : url.split('/');
  if (type !== undefined) resource.resourceType ??= type;
  if (id !== undefined) resource.id ??= id;
  if (method === 'POST') resource.id ??= randomUUID();
  if ((type !== undefined && resource.resourceType !== type) || (id !== undefined && resource.id !== id)) {
    issues.push({
      code: 'value',
      diagnostics: `the resource is not ${url}`,
      expression: `${at}.request.url`,
    });
  }
  return resource;
}
