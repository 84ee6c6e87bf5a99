import { DocumentError, describeSource, loadResources, type ResourceDoc } from '@authz/cli';
import type { ConfigDeps } from '../deps.js';
import { ApiError } from '../http/errors.js';
import { type PlanEntry, planResources, writePlan } from './plan.js';

/** What loading the init bundle did. */
export interface InitBundleResult {
  created: number;
  replaced: number;
  unchanged: number;
}

/** The init bundle could not be loaded; the message names each file and field. */
export class InitBundleError extends Error {
  readonly code = 'ERR_INIT_BUNDLE';
}

/** Plans raced by another config replica applying the same bundle are retried this often. */
const ATTEMPTS = 3;

/**
 * Loads `AUTHZ_INIT_BUNDLE` (DESIGN §14, Aidbox's init bundle): a YAML/JSON Bundle, a
 * multi-document file or a directory of them, validated as a whole and written only where the
 * stored resource differs — so a restart, or several replicas starting at once, changes
 * nothing that is already in place. Any invalid resource stops the start with every problem
 * named by file and field, and nothing written.
 */
export async function loadInitBundle(deps: ConfigDeps, path: string): Promise<InitBundleResult> {
  let docs: ResourceDoc[];
  try {
    docs = await loadResources(path);
  } catch (err) {
    if (err instanceof DocumentError)
      throw new InitBundleError(`AUTHZ_INIT_BUNDLE: ${err.message}`, { cause: err });
    throw err;
  }
  for (let attempt = 1; ; attempt++) {
    let plan: PlanEntry[];
    try {
      plan = await planResources(
        deps,
        docs.map((d) => d.resource),
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) throw located(err, docs);
      throw err;
    }
    try {
      await writePlan(deps, plan);
    } catch (err) {
      // Another replica wrote one of these between our plan and our write: plan again.
      if (err instanceof ApiError && err.code === 'ERR_PRECONDITION_FAILED' && attempt < ATTEMPTS) continue;
      throw err;
    }
    const count = (a: PlanEntry['action']) => plan.filter((p) => p.action === a).length;
    return { created: count('create'), replaced: count('replace'), unchanged: count('unchanged') };
  }
}

function located(err: ApiError, docs: ResourceDoc[]): InitBundleError {
  const lines = err.issues.map((issue) => {
    const m = /^Bundle\.entry\[(\d+)\]\.resource\.?(.*)$/.exec(issue.expression ?? '');
    const doc = m ? docs[Number(m[1])] : undefined;
    if (!doc) return `  ${issue.expression ?? ''}: ${issue.diagnostics}`;
    return `  ${describeSource(doc.source)}: ${doc.type}${m?.[2] ? `.${m[2]}` : `/${doc.id}`}: ${issue.diagnostics}`;
  });
  return new InitBundleError(`AUTHZ_INIT_BUNDLE is invalid; nothing was written:\n${lines.join('\n')}`, {
    cause: err,
  });
}
