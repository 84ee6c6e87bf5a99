export { CheckRequest } from './check.js';
export { DecisionEvent, RevokeEvent, WorkerStats } from './events.js';
export {
  DEFAULT_CACHE_TTL_SECONDS,
  DEFAULT_CLOCK_SKEW_SECONDS,
  DEFAULT_MAX_LIFETIME_SECONDS,
  MAX_CHECK_HEADERS,
  MAX_CHECK_REQUEST_BYTES,
  MAX_FORM_BODY_LENGTH,
  MAX_JSON_DEPTH,
  MAX_QUERY_PARAMS,
  MAX_RESOURCE_BYTES,
  MAX_TARGET_LENGTH,
  MAX_TOKEN_BYTES,
} from './limits.js';
export { type IssueCode, type OperationOutcome, type OutcomeIssue, operationOutcome } from './outcome.js';
export { DEFAULT_REDACT_PARAMS, parseRedactParams, queryRedactor, REDACTED } from './redact.js';
export {
  BearerErrorCode,
  CheckReply,
  CheckStatus,
  ErrorCode,
  ExplainEntry,
  Identity,
  ResponseCheck,
} from './reply.js';
export * from './request/index.js';
export {
  AccessPolicy,
  Client,
  FHIR_ID_PATTERN,
  isResourceType,
  JWS_ALGORITHMS,
  type JwsAlgorithm,
  JwtKey,
  PolicyRule,
  parseResourceKey,
  RESOURCE_SCHEMAS,
  RESOURCE_TYPES,
  Reference,
  type Resource,
  type ResourceType,
  Role,
  referenceId,
  resourceKey,
  TokenIntrospector,
  User,
} from './resources.js';
export {
  parseRevocationEntry,
  REVOCATION_BUCKET,
  type RevocationEntry,
  revocationKey,
  type SubjectRevocation,
  type TokenRevocation,
} from './revocation.js';
export {
  DEFAULT_CLIENT_CERT_HEADER,
  DPOP_ALGORITHMS,
  DPOP_PROOF_MAX_AGE_SECONDS,
  MAX_DPOP_PROOF_BYTES,
  type TokenBinding,
} from './sender.js';
export {
  CONFIG_BUCKET,
  DEFAULT_SUBJECT_PREFIX,
  REQUEST_ID_HEADER,
  type Subjects,
  subjects,
  TRACEPARENT_HEADER,
  WORKER_QUEUE_GROUP,
} from './subjects.js';
export { hashToken } from './token-hash.js';
export { WireSchema, wire } from './validate.js';
