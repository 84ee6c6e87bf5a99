import { MAX_RESOURCE_BYTES } from '@authz/protocol';
import { type PlanAction, planResources } from '../bundle/plan.js';
import type { ConfigDeps } from '../deps.js';
import { readParsedBody } from '../http/body.js';
import { ApiError } from '../http/errors.js';
import { etag } from '../http/resource-http.js';
import type { Route } from '../http/router.js';
import { isPlainObject } from '../validate/resource.js';

/** A Bundle to validate may hold many resources: this many resource bodies at most. */
const MAX_VALIDATE_BYTES = 16 * MAX_RESOURCE_BYTES;

/** FHIR batch-response statuses for what a write would do (RFC 9110 meanings). */
const STATUS: Record<PlanAction, string> = {
  create: '201 Created',
  replace: '200 OK',
  unchanged: '304 Not Modified',
};

/**
 * `POST /$validate` (admin): the dry run behind `authz apply`. The body is one resource or a
 * Bundle of them (`entry[].resource`, each with `resourceType` and `id`); every resource is
 * validated exactly as a PUT would, and nothing is written. 200 answers a `batch-response`
 * Bundle saying, per entry, whether it would be created (201), replaced (200) or is unchanged
 * (304), with the stored revision as `etag`; 422 lists every problem of every entry with its
 * path (`Bundle.entry[2].resource.matcho.uri`).
 */
export function validateRoute(deps: ConfigDeps): Route {
  return {
    method: 'POST',
    path: '/$validate',
    async handle(ctx) {
      const { value } = await readParsedBody(ctx.req, MAX_VALIDATE_BYTES, ['json', 'yaml']);
      const plan = await planResources(deps, bundleResources(value));
      const entry = plan.map((p) => ({
        fullUrl: `${p.type}/${p.id}`,
        response: {
          status: STATUS[p.action],
          ...(p.revision === undefined ? {} : { etag: etag(p.revision) }),
        },
      }));
      return { status: 200, body: { resourceType: 'Bundle', type: 'batch-response', entry } };
    },
  };
}

/** The resources of a Bundle body, or the body itself as the only one. */
export function bundleResources(value: unknown): unknown[] {
  if (!isPlainObject(value) || value.resourceType !== 'Bundle') return [value];
  const entries = value.entry ?? [];
  if (!Array.isArray(entries)) {
    throw new ApiError('ERR_BAD_REQUEST', 'Bundle.entry must be a list', {
      issues: [{ code: 'structure', diagnostics: 'must be a list', expression: 'Bundle.entry' }],
    });
  }
  return entries.map((e: unknown) => (isPlainObject(e) ? e.resource : undefined));
}
