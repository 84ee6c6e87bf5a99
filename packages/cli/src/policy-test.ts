import { dirname, relative, resolve } from 'node:path';
import { PolicyConfigError, testPolicy } from '@authz/policy';
import type { AccessPolicy, ExplainEntry } from '@authz/protocol';
import { configFiles, DocumentError, isObject, readDocuments } from './documents.js';

/** One case of a suite: a request context and whether the policy must allow it. */
export interface TestCase {
  name: string;
  context: Record<string, unknown>;
  expect: boolean;
}

/** The result of one case. */
export interface CaseResult {
  suite: string;
  policy: string;
  name: string;
  passed: boolean;
  expected: boolean;
  actual?: boolean;
  applicable?: boolean;
  explain?: ExplainEntry[];
  /** Set when the case could not run (the policy does not compile, the context is not a mapping). */
  error?: string;
}

/**
 * Runs every policy test suite under `target` offline, with the evaluator the workers use
 * (`testPolicy` of @authz/policy: the same compile, context pruning, `link` / `roleName`
 * applicability and engines). A directory contributes its `*.test.yaml` / `*_test.yaml` /
 * `.json` files; a file named directly is read whatever its name. Each YAML document is
 * `{policy: <AccessPolicy or a path to one>, cases: [{name, context, expect}]}`.
 */
export async function runPolicyTests(target: string, base = process.cwd()): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const files = await configFiles(target, { tests: true });
  if (files.length === 0) throw new DocumentError(target, 'no policy test suites (*.test.yaml) found');
  for (const path of files) {
    const suite = relative(base, path) || path;
    const docs = await readDocuments(path);
    for (const [index, doc] of docs.entries()) {
      if (doc === null || doc === undefined) continue;
      const where = docs.length > 1 ? `document ${index}` : undefined;
      if (!isObject(doc) || !Array.isArray(doc.cases)) {
        throw new DocumentError(suite, 'a suite is {policy, cases: [{name, context, expect}]}', where);
      }
      const policy = await loadPolicy(doc.policy, path, suite, where);
      doc.cases.forEach((c: unknown, i: number) => {
        results.push(runCase(suite, policy, c, `${where ? `${where}, ` : ''}cases[${i}]`));
      });
    }
  }
  return results;
}

function runCase(suite: string, policy: AccessPolicy, raw: unknown, where: string): CaseResult {
  const policyName = policy.id ?? 'policy';
  if (!isObject(raw) || typeof raw.expect !== 'boolean' || !isObject(raw.context)) {
    throw new DocumentError(suite, 'a case is {name, context: <request context>, expect: true|false}', where);
  }
  const name = typeof raw.name === 'string' ? raw.name : where;
  const base = { suite, policy: policyName, name, expected: raw.expect };
  try {
    const outcome = testPolicy(policy, raw.context);
    return {
      ...base,
      passed: outcome.result === raw.expect,
      actual: outcome.result,
      applicable: outcome.applicable,
      explain: outcome.explain,
    };
  } catch (err) {
    if (!(err instanceof PolicyConfigError)) throw err;
    return { ...base, passed: false, error: `the policy is invalid: ${err.message}` };
  }
}

/** The suite's policy: inline, or a path (relative to the suite file) to a YAML/JSON AccessPolicy. */
async function loadPolicy(
  value: unknown,
  suitePath: string,
  suite: string,
  where?: string,
): Promise<AccessPolicy> {
  if (isObject(value)) return value as AccessPolicy;
  if (typeof value !== 'string') {
    throw new DocumentError(suite, 'policy must be an AccessPolicy or the path of a file holding one', where);
  }
  const file = resolve(dirname(suitePath), value);
  const docs = (await readDocuments(file)).filter((d) => d !== null && d !== undefined);
  const policies = docs.filter((d) => isObject(d) && (d.resourceType ?? 'AccessPolicy') === 'AccessPolicy');
  if (policies.length !== 1) {
    throw new DocumentError(
      suite,
      `${value} must hold exactly one AccessPolicy (found ${policies.length})`,
      where,
    );
  }
  return policies[0] as AccessPolicy;
}
