/**
 * The wire shapes the console reads, mirrored from `@authz/protocol` (which is Node code and not
 * bundled into the page). Only the fields the console shows are listed.
 */

/** One problem of a FHIR OperationOutcome; `expression` names the offending field. */
export interface OutcomeIssue {
  severity?: string;
  code: string;
  diagnostics?: string;
  expression?: string[];
}

/** The body of every error the config service answers. */
export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: OutcomeIssue[];
}

/** Why one policy did or did not allow (DESIGN §5 `explain`). */
export interface ExplainEntry {
  policy: string;
  engine: string;
  result: boolean;
  detail?: string;
  /** path into the request context of the first mismatch (matcho) */
  path?: string;
  expected?: unknown;
  actual?: unknown;
  /** json-schema: ajv's errors */
  errors?: unknown[];
  /** complex: the nested rules */
  children?: ExplainEntry[];
}

/** Who a request was authenticated as. */
export interface Identity {
  kind: 'jwt' | 'opaque';
  introspector: string;
  iss?: string;
  sub?: string;
  user?: string;
  client?: string;
  exp?: number;
}

/** The answer of `POST /$check`. */
export interface CheckReply {
  allow: boolean;
  status: number;
  reason: string;
  error?: string;
  policy?: string;
  identity?: Identity;
  revision?: number;
  explain?: ExplainEntry[];
  request_id?: string;
}

/** The answer of `POST /$test-policy`. */
export interface TestPolicyResult {
  result: boolean;
  applicable: boolean;
  explain: ExplainEntry[];
}

/** One event of `GET /$decisions`. */
export interface DecisionEvent {
  time: string;
  request_id: string;
  method: string;
  uri: string;
  allow: boolean;
  status: number;
  reason: string;
  error?: string;
  policy?: string;
  subject?: string;
  user?: string;
  introspector?: string;
  latency: number;
  revision?: number;
  worker?: string;
}

/** The resource types the config service stores (DESIGN §7). */
export const RESOURCE_TYPES = ['AccessPolicy', 'TokenIntrospector', 'User', 'Client', 'Role'] as const;
/** One of {@link RESOURCE_TYPES}. */
export type ResourceType = (typeof RESOURCE_TYPES)[number];
