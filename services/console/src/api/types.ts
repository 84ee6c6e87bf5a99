/**
 * The wire shapes the console reads, from `@authz/protocol` (browser-safe: it loads `node:crypto`
 * only when a token is hashed, which the console never does); only browser-side values live here.
 */
export type {
  CheckReply,
  DecisionEvent,
  ExplainEntry,
  Identity,
  OperationOutcome,
  OutcomeIssue,
} from '@authz/protocol';

import {
  type ExplainEntry,
  RESOURCE_TYPES as PROTOCOL_RESOURCE_TYPES,
  type ResourceType,
} from '@authz/protocol';

/** The answer of `POST /$test-policy`. */
export interface TestPolicyResult {
  result: boolean;
  applicable: boolean;
  explain: ExplainEntry[];
}

export type { ResourceType } from '@authz/protocol';

/**
 * The resource types the config service stores (DESIGN §7), in the console's menu order: the
 * policies people edit most first, then @authz/protocol's order (its one list, imported: the
 * package loads in the browser).
 */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  'AccessPolicy',
  ...PROTOCOL_RESOURCE_TYPES.filter((type) => type !== 'AccessPolicy'),
];
