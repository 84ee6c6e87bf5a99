/**
 * The wire shapes the console reads. Types come from `@authz/protocol` (type-only imports are
 * erased from the bundle, so no Node code reaches the page); only browser-side values live here.
 */
export type {
  CheckReply,
  DecisionEvent,
  ExplainEntry,
  Identity,
  OperationOutcome,
  OutcomeIssue,
} from '@authz/protocol';

import type { ExplainEntry } from '@authz/protocol';

/** The answer of `POST /$test-policy`. */
export interface TestPolicyResult {
  result: boolean;
  applicable: boolean;
  explain: ExplainEntry[];
}

/**
 * The resource types the config service stores (DESIGN §7), in the console's menu order. A
 * value, not a type, so it is listed here rather than imported from the Node package.
 */
export const RESOURCE_TYPES = ['AccessPolicy', 'TokenIntrospector', 'User', 'Client', 'Role'] as const;
/** One of {@link RESOURCE_TYPES}. */
export type ResourceType = (typeof RESOURCE_TYPES)[number];
