/**
 * `@authz/policy` — Aidbox AccessPolicy engines (allow, json-schema, matcho, complex), the request
 * context they see, and the policy set a worker decides with (DESIGN §6, §7).
 */
export {
  BODY_UNAVAILABLE,
  buildRequestContext,
  type ContextClaims,
  type ContextIdentity,
  contextClaims,
  type RequestContext,
} from './context/build.js';
export { PARTIAL_MAP, type Partiality, partialityOf } from './context/partial.js';
export { type FhirRoute, parseFhirRoute, routeOfSegments } from './context/route.js';
export type { Constraints } from './engines/rule.js';
export { SCHEMA_STEP_BUDGET, spentSchemaSteps } from './engines/schema-budget.js';
export { PolicyConfigError, type PolicyErrorCode, type PolicyIssue } from './errors.js';
export {
  compileOperationResolver,
  fhirBaseProblem,
  type OperationRef,
  type OperationResolver,
  type OperationResolverOptions,
  operationRef,
  type ResolvedOperation,
} from './fhir/resolve.js';
export { type FhirInteraction, OPERATION_ROUTES, type OperationRoute } from './fhir/routes.js';
export { type CompiledPolicy, type CompileOptions, compilePolicy, type PolicyLinks } from './policy.js';
export { MAX_REGEX_SUBJECT } from './regex/safe-regex.js';
export { MAX_EXPLAIN_ENTRIES, type PolicyDecision, PolicySet, type Subject } from './set/policy-set.js';
export { type TestPolicyResult, testPolicy } from './test-policy.js';
