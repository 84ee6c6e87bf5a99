export { type ApiReply, ApiUnreachableError, ConfigClient, type ConfigConnection } from './api.js';
export { type Action, executePlan, type PlanStep, planApply, withoutServerMeta } from './apply.js';
export {
  configFiles,
  type DocSource,
  DocumentError,
  describeSource,
  loadResources,
  type ResourceDoc,
  readDocuments,
} from './documents.js';
export { type Exported, exportResources, exportYaml, writeExport } from './export.js';
export { type LocatedIssue, type OutcomeIssue, RefusedError } from './outcome.js';
export { type CaseResult, runPolicyTests, type TestCase } from './policy-test.js';
