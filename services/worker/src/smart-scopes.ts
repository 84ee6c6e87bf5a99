import type { CompiledPolicy, OperationResolver, RequestContext } from '@authz/policy';
import type { CheckReply, ExplainEntry, Identity, ResponseCheck, TokenIntrospector } from '@authz/protocol';
import {
  checkBundleScopes,
  checkScopes,
  compileGrant,
  type EntryResolver,
  SmartError,
  type SmartGrant,
  type SmartTarget,
} from '@authz/smart';
import type { VerifiedIdentity } from '@authz/verifier';
import { type ParsedCheck, searchQuery } from './request.js';

/** The SMART scope step's outcome for one request (DESIGN §13, Aidbox: scopes before policies). */
export type ScopeStep =
  /** scopes are not enforced for this token */
  | undefined
  /** refused by the scope step: the reply to send */
  | { readonly deny: CheckReply }
  /** passed: explain's first entry, and the response check the caller must make, if any */
  | {
      readonly entry: ExplainEntry;
      readonly response?: ResponseCheck;
      /** an `$operation`: only AccessPolicies linked to this Operation id may allow it */
      readonly operationLink?: string;
    };

/** What the scope step reads from the request. */
export interface ScopeStepRequest {
  readonly method: string;
  readonly path: string;
  readonly target: SmartTarget | undefined;
  readonly underFhirBase: boolean;
  /** query parameters, then a POST's form fields, percent-decoded (the context's `params`, route parameters aside) */
  readonly params: Readonly<Record<string, unknown>>;
  /** a POST's form body came as `body_form`: `params` holds its fields (DESIGN §10) */
  readonly bodyParamsSeen: boolean;
  readonly body: unknown;
  readonly bodyUnavailable: string | undefined;
  readonly canCheckResponse: boolean;
  /** a create with `If-None-Exist` or a query string (FHIR conditional create) */
  readonly conditionalCreate: boolean;
  readonly fhirBase: string;
  /** the Operation resolver, for the entries of a batch/transaction */
  readonly resolveEntry: EntryResolver;
}

interface GrantEntry {
  readonly introspector: TokenIntrospector | undefined;
  /** `null`: scopes are not enforced for this token */
  readonly grant: SmartGrant | SmartError | null;
}

// Parsed once per verified token: a cached token resolves to the same VerifiedIdentity object
// (JWT and opaque alike), so its grant rides with it and is dropped with it. The introspector
// object is kept to notice a change of `smart_scopes` without a re-verification.
const grants = new WeakMap<VerifiedIdentity, GrantEntry>();

/**
 * The compiled SMART grant of a verified token, or `null` when scopes are not enforced for it:
 * enforced when the token carries `atv: 2` (number or string, as Aidbox and Keycloak mappers
 * issue it) or its TokenIntrospector sets `smart_scopes: true`. A token whose scopes or patient
 * context do not parse yields the {@link SmartError} that refuses it.
 */
export function grantOf(
  verified: VerifiedIdentity,
  introspector: TokenIntrospector | undefined,
): SmartGrant | SmartError | null {
  const cached = grants.get(verified);
  if (cached !== undefined && cached.introspector === introspector) return cached.grant;
  const atv = verified.claims.atv;
  const enforced = atv === 2 || atv === '2' || introspector?.smart_scopes === true;
  let grant: SmartGrant | SmartError | null = null;
  if (enforced) {
    try {
      grant = compileGrant(verified.claims);
    } catch (err) {
      if (!(err instanceof SmartError)) throw err;
      grant = err;
    }
  }
  grants.set(verified, { introspector, grant });
  return grant;
}

/** Runs the scope step for a request of a token whose grant is `grant`. */
export function scopeStep(
  grant: SmartGrant | SmartError | null,
  request: ScopeStepRequest,
  identity: Identity | undefined,
): ScopeStep {
  if (grant === null) return undefined;
  if (grant instanceof SmartError) {
    // Aidbox rejects a token whose scopes break the grammar: 401, as for any unusable token.
    return { deny: { allow: false, status: 401, error: 'invalid_token', reason: grant.message } };
  }
  const what = `${request.method} ${request.path}`;
  const verdict =
    request.target?.interaction === 'transaction'
      ? checkBundleScopes(grant, what, request.body, request.fhirBase, request.resolveEntry)
      : checkScopes(grant, {
          what,
          target: request.target,
          underFhirBase: request.underFhirBase,
          params: searchParams(request.params),
          bodyParamsSeen: request.bodyParamsSeen,
          body: request.body,
          bodyUnavailable: request.bodyUnavailable,
          canCheckResponse: request.canCheckResponse,
          conditionalCreate: request.conditionalCreate,
        });
  if (!verdict.allow) {
    const reply: CheckReply = { allow: false, status: 403, reason: verdict.reason };
    if (identity) reply.identity = identity;
    return { deny: reply };
  }
  const entry: ExplainEntry = {
    policy: 'smart-scopes',
    engine: 'smart-scopes',
    result: true,
    detail: verdict.detail,
  };
  return {
    entry,
    ...(verdict.response ? { response: verdict.response } : {}),
    ...(verdict.operationLink ? { operationLink: verdict.operationLink } : {}),
  };
}

/** The explain entry of a scope step that refused. */
export function refusedEntry(reason: string): ExplainEntry {
  return { policy: 'smart-scopes', engine: 'smart-scopes', result: false, detail: reason };
}

/** Query parameters as search parameters: route parameters (`resource/type`) are not searches. */
function searchParams(params: Readonly<Record<string, unknown>>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key in params) {
    if (key.startsWith('resource/') || !Object.hasOwn(params, key)) continue;
    const value = params[key];
    if (typeof value === 'string') out[key] = value;
    else if (Array.isArray(value)) out[key] = value.map(String);
  }
  return out;
}

/**
 * The scope step of one decision (DESIGN §13), for the worker's `decide`: `undefined` when the
 * request carries no verified token or its scopes are not enforced.
 */
export function scopeStepOf(
  check: ParsedCheck,
  verified: VerifiedIdentity | undefined,
  identity: Identity | undefined,
  config: { introspector(id: string): TokenIntrospector | undefined },
  operations: OperationResolver,
): ScopeStep {
  if (!verified) return undefined;
  const grant = grantOf(verified, config.introspector(verified.introspector));
  if (grant === null) return undefined;
  const { request, method, path } = check;
  const { fhirBase } = operations;
  const query = request.uri.length > path.length + 1 ? request.uri.slice(path.length + 1) : '';
  const form = request.body_form;
  return scopeStep(
    grant,
    {
      method,
      path,
      target: operations.resolve(method, path, query !== ''),
      underFhirBase: path === fhirBase || path.startsWith(`${fhirBase}/`),
      // DESIGN §10: a POST's form fields are search parameters after the query's.
      params: queryParams(searchQuery(query, form)),
      bodyParamsSeen: form !== undefined,
      body: request.body,
      // The canonical model's verdict (DESIGN §10), which also covers a write sent without a body.
      bodyUnavailable: check.canonical.bodyUnavailable,
      canCheckResponse: request.can_check_response === true,
      conditionalCreate: request.headers['if-none-exist'] !== undefined || query !== '',
      fhirBase,
      resolveEntry: (entryMethod, target) => operations.resolveTarget(entryMethod, target),
    },
    identity,
  );
}

/**
 * Search parameters of a query, form-decoded as servlet containers and FHIR servers decode them
 * (`+` is a space); a repeated name becomes a list. A fragment never reaches here (§10).
 */
function queryParams(query: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (query === '') return out;
  for (const [key, value] of new URLSearchParams(query)) {
    if (key === '__proto__') continue;
    const prior = Object.hasOwn(out, key) ? out[key] : undefined;
    out[key] = prior === undefined ? value : [...(typeof prior === 'string' ? [prior] : prior), value];
  }
  return out;
}

/** Puts a passed scope step into the reply: explain's first entry, and the response check of an allow. */
export function applyScopeStep(
  reply: CheckReply,
  step: { entry: ExplainEntry; response?: ResponseCheck; operationLink?: string },
): void {
  if (reply.explain) reply.explain.unshift(step.entry);
  if (reply.allow && step.response) reply.response_check = step.response;
  if (!reply.allow && step.operationLink)
    reply.reason += `; under SMART scopes only an AccessPolicy linked to Operation/${step.operationLink} may allow it`;
}

/**
 * DESIGN §13: while scopes are enforced an `$operation` is allowed only by an AccessPolicy that
 * names it (`link: [{reference: Operation/<id>}]`): those policies alone are evaluated, in id
 * order, `roleName` honoured. Returns the allowing policy's id.
 */
export function decideLinkedOperation(
  operationId: string,
  policies: Iterable<CompiledPolicy>,
  ctx: RequestContext,
  roles: ReadonlySet<string>,
): string | undefined {
  const linked = [...policies]
    .filter((p) => p.links?.operations.includes(operationId) && (!p.roleName || roles.has(p.roleName)))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return linked.find((p) => p.evaluate(ctx))?.id;
}
