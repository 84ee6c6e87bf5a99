import type { ApiReply, ConfigClient } from './api.js';
import { describeSource, isObject, type ResourceDoc } from './documents.js';
import { type OutcomeIssue, RefusedError } from './outcome.js';

/** What applying does to one resource. */
export type Action = 'create' | 'replace' | 'unchanged' | 'delete';

/** One step of a plan. */
export interface PlanStep {
  action: Action;
  type: string;
  id: string;
  /** Where the resource came from; absent for deletions. */
  source?: ResourceDoc['source'];
  resource?: Record<string, unknown>;
  /** Revision the plan saw (`W/"n"`); writes are conditional on it. */
  etag?: string;
}

const ACTIONS: Record<string, Action> = {
  '201 Created': 'create',
  '200 OK': 'replace',
  '304 Not Modified': 'unchanged',
};

/** `GET /{type}` returns this many at most; a type with more cannot be pruned safely. */
const MAX_LISTED = 1000;

/**
 * The plan for `docs`: every resource validated by the config service (`POST /$validate`, which
 * writes nothing) and, with `prune`, the stored resources of the types present that no document
 * names. A refusal throws {@link RefusedError} carrying each issue's file and path.
 */
export async function planApply(
  api: ConfigClient,
  docs: ResourceDoc[],
  { prune = false } = {},
): Promise<PlanStep[]> {
  const reply = await api.request('POST', '/$validate', {
    resourceType: 'Bundle',
    type: 'collection',
    entry: docs.map((d) => ({ resource: d.resource })),
  });
  if (reply.status === 422 || reply.status === 400) throw refusal(reply, docs);
  expectStatus(reply, 200, 'POST /$validate');
  const entries =
    (reply.body as { entry?: Array<{ response?: { status?: string; etag?: string } }> }).entry ?? [];
  if (entries.length !== docs.length) {
    throw new Error(`POST /$validate answered ${entries.length} entries for ${docs.length} resources`);
  }
  const steps: PlanStep[] = docs.map((doc, i) => {
    const response = entries[i]?.response ?? {};
    const action = ACTIONS[response.status ?? ''];
    if (!action)
      throw new Error(`POST /$validate answered an unknown status ${JSON.stringify(response.status)}`);
    return {
      action,
      type: doc.type,
      id: doc.id,
      source: doc.source,
      resource: doc.resource,
      etag: response.etag,
    };
  });
  if (prune) steps.push(...(await pruneSteps(api, docs)));
  return steps;
}

async function pruneSteps(api: ConfigClient, docs: ResourceDoc[]): Promise<PlanStep[]> {
  const named = new Set(docs.map((d) => `${d.type}/${d.id}`));
  const steps: PlanStep[] = [];
  for (const type of [...new Set(docs.map((d) => d.type))].sort()) {
    const reply = await api.request('GET', `/${type}?_count=${MAX_LISTED}`);
    expectStatus(reply, 200, `GET /${type}`);
    const bundle = reply.body as { total?: number; entry?: Array<{ resource: Record<string, unknown> }> };
    if ((bundle.total ?? 0) > MAX_LISTED) {
      throw new Error(
        `--prune: ${type} has ${bundle.total} resources, more than the ${MAX_LISTED} one listing shows`,
      );
    }
    for (const { resource } of bundle.entry ?? []) {
      const id = String(resource.id);
      if (named.has(`${type}/${id}`)) continue;
      const version = isObject(resource.meta) ? resource.meta.versionId : undefined;
      steps.push({ action: 'delete', type, id, resource, etag: version ? `W/"${version}"` : undefined });
    }
  }
  return steps;
}

/** Progress of a write, for the progress line. */
export type OnProgress = (done: number, total: number, step: PlanStep) => void;

/**
 * Carries out a plan: each write conditional on the revision the plan saw (`If-Match`, or
 * `If-None-Match: *` to create), so a concurrent change is a 412, not an overwrite. On any
 * failure the writes already made are undone in reverse order (the previous versions were read
 * first), so a refused apply leaves the cluster as it found it — and the error is rethrown.
 */
export async function executePlan(
  api: ConfigClient,
  steps: PlanStep[],
  onProgress?: OnProgress,
): Promise<void> {
  const todo = steps.filter((s) => s.action !== 'unchanged');
  const undo: Array<() => Promise<ApiReply>> = [];
  let done = 0;
  try {
    for (const step of todo) {
      const path = `/${step.type}/${encodeURIComponent(step.id)}`;
      if (step.action === 'create') {
        expectStatus(
          await api.request('PUT', path, step.resource, { 'if-none-match': '*' }),
          201,
          `PUT ${path}`,
        );
        undo.push(() => api.request('DELETE', path));
      } else {
        const before = await api.request('GET', path);
        expectStatus(before, 200, `GET ${path}`);
        const previous = withoutServerMeta(before.body as Record<string, unknown>);
        const condition: Record<string, string> = step.etag ? { 'if-match': step.etag } : {};
        if (step.action === 'replace') {
          expectStatus(await api.request('PUT', path, step.resource, condition), 200, `PUT ${path}`);
        } else {
          expectStatus(await api.request('DELETE', path, undefined, condition), 200, `DELETE ${path}`);
        }
        undo.push(() => api.request('PUT', path, previous));
      }
      onProgress?.(++done, todo.length, step);
    }
  } catch (err) {
    const failed: string[] = [];
    for (const revert of undo.reverse()) {
      const reply = await revert().catch(() => undefined);
      if (!reply || reply.status >= 300) failed.push(String(reply?.status ?? 'unreachable'));
    }
    if (failed.length > 0) {
      throw new Error(
        `${(err as Error).message}; undoing the ${undo.length} writes made also failed (${failed.join(', ')})`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
}

/** The stored resource minus what the server manages (`meta.versionId`, `meta.lastUpdated`). */
export function withoutServerMeta(resource: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...resource };
  if (isObject(copy.meta)) {
    const { versionId: _v, lastUpdated: _l, ...meta } = copy.meta;
    if (Object.keys(meta).length > 0) copy.meta = meta;
    else delete copy.meta;
  }
  return copy;
}

function expectStatus(reply: ApiReply, status: number, what: string): void {
  if (reply.status === status) return;
  const issues =
    isObject(reply.body) && Array.isArray(reply.body.issue) ? (reply.body.issue as OutcomeIssue[]) : [];
  const detail = issues.map((i) => i.diagnostics).join('; ') || JSON.stringify(reply.body);
  throw new Error(`${what} answered ${reply.status}: ${detail}`);
}

/** A 400/422 from `/$validate`, its issues pointed back at the files. */
function refusal(reply: ApiReply, docs: ResourceDoc[]): RefusedError {
  const body = isObject(reply.body) ? reply.body : {};
  const issues = (Array.isArray(body.issue) ? body.issue : []) as OutcomeIssue[];
  return new RefusedError(
    reply.status,
    issues.map((issue) => {
      const expression = issue.expression?.[0] ?? '';
      const m = /^Bundle\.entry\[(\d+)\]\.resource\.?(.*)$/.exec(expression);
      const doc = m ? docs[Number(m[1])] : undefined;
      if (!doc) return { ...issue };
      const field = m?.[2] ? `${doc.type}.${m[2]}` : `${doc.type}/${doc.id}`;
      return { ...issue, file: describeSource(doc.source), path: field, resource: `${doc.type}/${doc.id}` };
    }),
  );
}
