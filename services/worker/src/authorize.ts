import {
  buildRequestContext,
  type ContextIdentity,
  type PolicyDecision,
  type ResolvedOperation,
  type Subject,
} from '@authz/policy';
import type { CanonicalCheck, CheckReply, CheckRequest, Identity, Role, User } from '@authz/protocol';
import type { ClientResource, VerifiedIdentity } from '@authz/verifier';
import { bundleRequests } from './bundle.js';
import type { DecisionDeps } from './decide.js';
import type { DescribedToken } from './described.js';
import { includedTypes } from './inline.js';
import { replies } from './replies.js';
import { searchQuery } from './request.js';
import { withoutSecret } from './secret-fields.js';
import { decideLinkedOperation } from './smart-scopes.js';

/**
 * Who a check is authenticated as, in the shapes policies and the candidate index read: built
 * once per check, shared by a Bundle's envelope and every entry (one identity, one token
 * verification, DESIGN §12).
 */
export interface Who {
  identity?: Identity;
  /** the verified token, when there is one (its SMART grant rides with it, DESIGN §13) */
  verified?: VerifiedIdentity;
  context: ContextIdentity;
  subject: Omit<Subject, 'operation'>;
}

const NO_ROLES: ReadonlySet<string> = new Set();

/** The {@link Who} of a verified token (with its User) or of a Basic client. */
export function whoIs(
  deps: DecisionDeps,
  identity: Identity | undefined,
  token: DescribedToken | undefined,
  user: User | undefined,
  basicClient?: ClientResource,
): Who {
  const verified = token?.verified;
  const roles: Role[] = identity?.user ? deps.config.rolesOf(identity.user) : [];
  const configured = identity?.client && !basicClient ? deps.config.client(identity.client) : undefined;
  // DESIGN §12: policies never see a Client's secret (hashed or not), however it was named.
  const client = basicClient ?? (configured ? deps.clients.visible(configured) : undefined);
  // A cached token's claims come pruned once, from its cache entry (DescribedToken).
  const context: ContextIdentity = {};
  if (token) {
    if (token.verified.kind === 'jwt') context.jwt = token.claims;
    else context.token = token.claims;
  }
  // DESIGN §11: a User's password hash never reaches a policy, explain or an event.
  if (user) context.user = withoutSecret(user, 'User');
  if (roles.length > 0) context.role = roles;
  if (client) context.client = client;
  const who: Who = {
    identity,
    context,
    subject: {
      user: identity?.user,
      client: identity?.client,
      roles: roles.length > 0 ? new Set(roles.map((r) => String(r.name))) : NO_ROLES,
    },
  };
  // Set, not spread in: a conditional object spread is a slow runtime call on every check.
  if (verified) who.verified = verified;
  return who;
}

/** The query of a target as sent (`path` may be the decoded path, shorter than the raw one). */
function queryOf(uri: string): string {
  const q = uri.indexOf('?');
  return q < 0 ? '' : uri.slice(q + 1);
}

/** The policy decision of one request (a check, or one Bundle entry) for `who`. */
export interface Authorization {
  decision: PolicyDecision;
  operation?: ResolvedOperation;
}

/**
 * Resolves the request's Operation (DESIGN §12: it feeds both the context and the candidate
 * index) and asks the policy set. `path` is the target's path, `hasQuery` whether a non-empty
 * query follows it.
 */
export function authorize(
  deps: DecisionDeps,
  who: Who,
  request: CheckRequest,
  path: string,
  explain: boolean,
  canonical?: CanonicalCheck,
  operationLink?: string,
): Authorization {
  const operation = deps.operations.resolve(request.method, path, queryOf(request.uri) !== '');
  // The check's canonical form (DESIGN §10) when given; a dependent request is checked here.
  const ctx = buildRequestContext(request, who.context, operation?.ref, canonical);
  // Fields named, not spread: an object spread here was a slow runtime call on every check.
  const { user, client, roles } = who.subject;
  const subject: Subject = { user, client, roles, operation: operation?.id };
  if (operationLink !== undefined) {
    // DESIGN §13: under SMART scopes an $operation is allowed only by policies that name it.
    const policy = decideLinkedOperation(operationLink, deps.config.allPolicies(), ctx, subject.roles);
    return { decision: { policy }, operation };
  }
  return { decision: deps.config.policySet.decide(ctx, subject, { explain }), operation };
}

/**
 * A batch/transaction whose envelope is allowed (DESIGN §12): every entry must be allowed as the
 * request it describes, with the same identity; the first entry denied (or unreadable) denies
 * the whole Bundle, the reason naming its 0-based index. A seam: `allowEntry` decides one entry
 * (SMART scope checks wrap it).
 *
 * @returns the reason of the refusal, or `undefined` when every entry is allowed
 */
export function refuseBundle(
  envelope: CheckRequest,
  base: string,
  allowEntry: (request: CheckRequest, path: string) => string | undefined,
): string | undefined {
  const read = bundleRequests(envelope, base);
  if ('problem' in read) return read.problem;
  for (let i = 0; i < read.entries.length; i++) {
    const entry = read.entries[i] as (typeof read.entries)[number];
    if ('problem' in entry) return `Bundle entry ${i} cannot be authorized: ${entry.problem}`;
    const refused = allowEntry(entry.request, entry.path);
    if (refused !== undefined)
      return `Bundle entry ${i} (${entry.method} ${entry.request.uri}) is not allowed: ${refused}`;
  }
  return undefined;
}

/** The reply to an allowed request: allowed, unless its Bundle entries or inline requests are not. */
export function envelopeReply(
  deps: DecisionDeps,
  who: Who,
  request: CheckRequest,
  allowed: Authorization & { decision: { policy: string } },
): CheckReply {
  const { operation } = allowed;
  const refused = operation === undefined ? undefined : refuseDependents(deps, who, request, operation);
  if (refused === undefined) return replies.allowed(allowed.decision.policy, who.identity);
  return replies.dependentRefused(refused, who.identity);
}

const SEARCHES = new Set(['search', 'search-post', 'compartment-search']);

/** Why a Bundle entry or an inline request of an allowed request is refused (DESIGN §12). */
function refuseDependents(
  deps: DecisionDeps,
  who: Who,
  request: CheckRequest,
  operation: ResolvedOperation,
  inBundle = false,
): string | undefined {
  const base = operation.format === 'fhir' ? deps.operations.fhirBase : '';
  if (operation.interaction === 'transaction') {
    if (inBundle) return 'a Bundle entry that posts another Bundle is not authorized';
    return refuseBundle(request, base, (entry, entryPath) => refuseRequest(deps, who, entry, entryPath));
  }
  if (!deps.inlineRequests || !SEARCHES.has(operation.interaction)) return undefined;
  // A POST _search's parameters are the query's and its form body's (DESIGN §10): checkable
  // only when the body came as `body_form`.
  const form = request.body_form;
  if (operation.interaction === 'search-post' && form === undefined)
    return 'with inline requests authorized, a POST _search cannot be checked for _include/_revinclude in a body the check did not carry: search with GET';
  const included = includedTypes(searchQuery(queryOf(request.uri), form));
  if ('problem' in included) return included.problem;
  for (const type of included.types) {
    const searchPath = `${base}/${type}`;
    const search: CheckRequest = {
      ...request,
      method: 'GET',
      uri: searchPath,
      body: undefined,
      body_form: undefined,
    };
    if (refuseRequest(deps, who, search, searchPath) !== undefined)
      return `the search includes ${type} (_include/_revinclude), and no AccessPolicy allows GET ${searchPath} for this caller`;
  }
  return undefined;
}

/** Why one dependent request (a Bundle entry, an included type's search) is refused, if it is. */
function refuseRequest(
  deps: DecisionDeps,
  who: Who,
  request: CheckRequest,
  path: string,
): string | undefined {
  const { decision, operation } = authorize(deps, who, request, path, false);
  if (decision.policy === undefined) return 'no AccessPolicy allows it';
  return operation === undefined ? undefined : refuseDependents(deps, who, request, operation, true);
}
