import type { OperationResolver } from '@authz/policy';
import type { CheckReply, Identity, User } from '@authz/protocol';
import {
  type BasicCredentials,
  basicCredentials,
  type ClientAuthenticator,
  type ClientAuthResult,
  type PresentedToken,
  type SenderConstraints,
} from '@authz/verifier';
import { authorize, envelopeReply, type Who, whoIs } from './authorize.js';
import type { ConfigState } from './config-state.js';
import { type DescribedToken, describeToken, type TokenSource } from './described.js';
import { replies } from './replies.js';
import { bearerToken, type ParsedCheck } from './request.js';
import { dpopCredential, senderFacts } from './sender.js';
import { applyScopeStep, refusedEntry, scopeStepOf } from './smart-scopes.js';
import { type UserDirectory, UserLookupError } from './users.js';

/** What a decision needs from the worker. */
export interface DecisionDeps {
  config: ConfigState;
  /** the verifier (see createTokenVerifier), or a fake */
  verifier: TokenSource;
  /** Users by id (a {@link UserDirectory}, or a fake); a rejection with UserLookupError is a 503 */
  users: Pick<UserDirectory, 'get'>;
  /** Aidbox Operation of a request (DESIGN §12), compiled once for `AUTHZ_FHIR_BASE`. */
  operations: OperationResolver;
  /** Basic clients (DESIGN §12), checked against the configured Clients. */
  clients: Pick<ClientAuthenticator, 'authenticate' | 'visible'>;
  /** `AUTHZ_AUTHORIZE_INLINE_REQUESTS`: `_include` / `_revinclude` need each included type's search allowed. */
  inlineRequests: boolean;
  /** DPoP and mTLS binding checks (DESIGN §13), with the cluster's DPoP replay store */
  sender: Pick<SenderConstraints, 'check'>;
}

/** A decision plus what the decision event needs and the reply does not carry. */
export interface Decision {
  reply: CheckReply;
  /** the token (and DPoP proof) presented, kept only to scrub them out of `explain` */
  presented?: PresentedToken;
  /** the verified token `reply.identity` describes; a cached one carries that identity's JSON */
  described?: DescribedToken;
}

/** One check on its way through a decision: the request, the worker, and the token once presented. */
interface Checking {
  readonly check: ParsedCheck;
  readonly deps: DecisionDeps;
  readonly presented?: PresentedToken;
  readonly described?: DescribedToken;
}

/**
 * Decides one parsed check request (DESIGN §6). Synchronous when everything it needs is in
 * memory (a token verified before, a cached User): the common case then answers without a
 * promise turn. Throws or rejects only on internal errors, which the caller turns into a 503.
 */
export function decide(check: ParsedCheck, deps: DecisionDeps): Decision | Promise<Decision> {
  const authorization = check.request.headers.authorization;
  if (typeof authorization === 'string') {
    const basic = basicCredentials(authorization);
    if (typeof basic === 'string') return { reply: replies.badCredentials(basic) };
    if (basic !== undefined) return decideBasic(check, deps, basic);
  }
  const dpop = dpopCredential(check.request.headers);
  if (dpop !== undefined && 'problem' in dpop) return { reply: replies.badCredentials(dpop.problem, 'dpop') };
  const bearer = dpop ?? bearerToken(check.request.headers);
  if ('problem' in bearer) return { reply: replies.badCredentials(bearer.problem) };
  if ('none' in bearer) return decideFor({ check, deps });
  const presented: PresentedToken = dpop ?? { scheme: 'bearer', token: bearer.token };
  const cached = deps.verifier.cached(presented.token);
  if (cached) return decideBound({ check, deps, presented, described: cached.derived });
  return deps.verifier.verify(presented.token).then(
    (verified) => decideBound({ check, deps, presented, described: describeToken(verified) }),
    // A presented token that fails is never downgraded to an anonymous request (§6 step 3).
    (err: unknown) => refused(presented, err),
  );
}

/** The decision for a presented token that is refused. */
function refused(presented: PresentedToken, err: unknown): Decision {
  return { reply: replies.verificationFailed(err, presented.scheme), presented };
}

/** §13: a verified token is used only by the sender it is bound to (DPoP key, client certificate). */
function decideBound(
  c: Checking & Required<Pick<Checking, 'presented' | 'described'>>,
): Decision | Promise<Decision> {
  const { check, deps, presented, described } = c;
  const facts = senderFacts(check, described.verified.introspector, deps.config, presented.scheme === 'dpop');
  const refusal = deps.sender.check(described.verified, presented, facts);
  if (refusal === undefined) return decideFor(c);
  if (!(refusal instanceof Promise)) return refused(presented, refusal);
  return refusal.then((err) => (err === undefined ? decideFor(c) : refused(presented, err)));
}

/** Steps 4–6 of §6 once the token (if any) is verified: User, Roles, Client, policies. */
function decideFor(c: Checking): Decision | Promise<Decision> {
  const userId = c.described?.identity.user;
  if (!userId) return evaluate(c, undefined);
  const user = c.deps.users.get(userId);
  return user instanceof Promise
    ? user.then(
        (found) => evaluate(c, found),
        (err: unknown): Decision => {
          // Not knowing the User is "cannot decide now" (503), with a reason; anything else is internal.
          if (err instanceof UserLookupError)
            return { reply: replies.unavailable(err.message), presented: c.presented };
          throw err;
        },
      )
    : evaluate(c, user);
}

function evaluate(c: Checking, user: User | undefined): Decision {
  const { described, presented } = c;
  const who = whoIs(c.deps, described?.identity, described, user);
  return { reply: decideAs(c.check, c.deps, who), presented, described };
}

/** The policies' answer for `who` (the envelope's, then a Bundle's entries). */
function decideAs(check: ParsedCheck, deps: DecisionDeps, who: Who): CheckReply {
  const { request, method, path } = check;
  const explain = request.explain === true;
  // DESIGN §13: SMART scopes first, then the AccessPolicies (scopes never allow by themselves).
  const scopes = scopeStepOf(check, who.verified, who.identity, deps.config, deps.operations);
  if (scopes && 'deny' in scopes) {
    const reply = scopes.deny;
    if (explain) reply.explain = [refusedEntry(reply.reason)];
    return reply;
  }
  const authorization = authorize(deps, who, request, path, explain, check.canonical, scopes?.operationLink);
  const { decision } = authorization;
  let reply: CheckReply;
  if (decision.policy !== undefined)
    reply = envelopeReply(
      deps,
      who,
      request,
      authorization as typeof authorization & { decision: { policy: string } },
    );
  else if (who.identity) reply = replies.forbidden(method, path, who.identity);
  else reply = replies.anonymousDenied(method, path);
  if (explain) reply.explain = decision.explain ?? [];
  if (scopes) applyScopeStep(reply, scopes);
  return reply;
}

/** DESIGN §12: `Authorization: Basic` names a Client; no token, no User. */
function decideBasic(
  check: ParsedCheck,
  deps: DecisionDeps,
  credentials: BasicCredentials,
): Decision | Promise<Decision> {
  const answer = (result: ClientAuthResult): Decision => {
    if ('failure' in result) return { reply: replies.basicRefused(result.reason) };
    const id = String(result.client.id);
    const identity: Identity = { kind: 'basic', sub: id, client: id };
    return {
      reply: decideAs(check, deps, whoIs(deps, identity, undefined, undefined, result.client)),
    };
  };
  const result = deps.clients.authenticate(credentials, check.request.remote_addr ?? '');
  return result instanceof Promise ? result.then(answer) : answer(result);
}
