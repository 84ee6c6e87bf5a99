import type { OperationResolver } from '@authz/policy';
import type { CheckReply, Identity, User } from '@authz/protocol';
import {
  type BasicCredentials,
  basicCredentials,
  bindingOf,
  type ClientAuthenticator,
  type ClientAuthResult,
  confirmationOf,
  type PresentedToken,
  type SenderConstraints,
  type TokenVerifier,
  type VerifiedIdentity,
} from '@authz/verifier';
import { authorize, envelopeReply, type Who, whoIs } from './authorize.js';
import type { ConfigState } from './config-state.js';
import { replies } from './replies.js';
import { bearerToken, type ParsedCheck } from './request.js';
import { dpopCredential, senderFacts } from './sender.js';
import { applyScopeStep, refusedEntry, scopeStepOf } from './smart-scopes.js';
import { type UserDirectory, UserLookupError } from './users.js';

/** What a decision needs from the worker. */
export interface DecisionDeps {
  config: ConfigState;
  verifier: TokenVerifier;
  users: UserDirectory;
  /** Aidbox Operation of a request (DESIGN §12), compiled once for `AUTHZ_FHIR_BASE`. */
  operations: OperationResolver;
  /** Basic clients (DESIGN §12), checked against the configured Clients. */
  clients: ClientAuthenticator;
  /** `AUTHZ_AUTHORIZE_INLINE_REQUESTS`: `_include` / `_revinclude` need each included type's search allowed. */
  inlineRequests: boolean;
  /** DPoP and mTLS binding checks (DESIGN §13), with the cluster's DPoP replay store */
  sender: SenderConstraints;
}

/** A decision plus what the decision event needs and the reply does not carry. */
export interface Decision {
  reply: CheckReply;
  /** the bearer token, kept only to scrub it out of `explain` */
  token?: string;
  /** the DPoP proof, kept only to scrub it out of `explain` */
  proof?: string;
  /** JSON of `reply.identity`, when a cached token already had it written */
  identityJson?: string;
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
  if ('none' in bearer) return decideFor(check, deps, undefined, undefined);
  const presented: PresentedToken = dpop ?? { scheme: 'bearer', token: bearer.token };
  const { token } = presented;
  const cached = deps.verifier.cached(token);
  if (cached) return decideBound(check, deps, describedOnce(cached), presented);
  return deps.verifier.verify(token).then(
    (verified) => decideBound(check, deps, { verified, identity: describeIdentity(verified) }, presented),
    // A presented token that fails is never downgraded to an anonymous request (§6 step 3).
    (err: unknown) => ({
      reply: replies.verificationFailed(err, presented.scheme),
      token,
      proof: presented.proof,
    }),
  );
}

/** §13: a verified token is used only by the sender it is bound to (DPoP key, client certificate). */
function decideBound(
  check: ParsedCheck,
  deps: DecisionDeps,
  described: Described,
  presented: PresentedToken,
): Decision | Promise<Decision> {
  const facts = senderFacts(check, described.verified.introspector, deps.config, presented.scheme === 'dpop');
  const refusal = deps.sender.check(described.verified, presented, facts);
  if (refusal === undefined) return decideFor(check, deps, described, presented.token, presented.proof);
  const refused = (err: unknown): Decision => ({
    reply: replies.verificationFailed(err, presented.scheme),
    token: presented.token,
    proof: presented.proof,
  });
  if (!(refusal instanceof Promise)) return refused(refusal);
  return refusal.then((err) =>
    err === undefined ? decideFor(check, deps, described, presented.token, presented.proof) : refused(err),
  );
}

/** Steps 4–6 of §6 once the token (if any) is verified: User, Roles, Client, policies. */
function decideFor(
  check: ParsedCheck,
  deps: DecisionDeps,
  described: Described | undefined,
  token: string | undefined,
  proof?: string,
): Decision | Promise<Decision> {
  const userId = described?.identity.user;
  if (!userId) return evaluate(check, deps, described, undefined, token, proof);
  const user = deps.users.get(userId);
  return user instanceof Promise
    ? user.then(
        (found) => evaluate(check, deps, described, found, token, proof),
        (err: unknown): Decision => {
          // Not knowing the User is "cannot decide now" (503), with a reason; anything else is internal.
          if (err instanceof UserLookupError)
            return { reply: replies.unavailable(err.message), token, proof };
          throw err;
        },
      )
    : evaluate(check, deps, described, user, token, proof);
}

function evaluate(
  check: ParsedCheck,
  deps: DecisionDeps,
  described: Described | undefined,
  user: User | undefined,
  token: string | undefined,
  proof: string | undefined,
): Decision {
  const identity = described?.identity;
  const who = whoIs(deps, identity, described?.verified, described?.json !== undefined, user);
  return { reply: decideAs(check, deps, who), token, proof, identityJson: described?.json };
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
      reply: decideAs(check, deps, whoIs(deps, identity, undefined, false, undefined, result.client)),
    };
  };
  const result = deps.clients.authenticate(credentials, check.request.remote_addr ?? '');
  return result instanceof Promise ? result.then(answer) : answer(result);
}

/** A verified token with its reply identity; `json` only for a cached token (written once). */
interface Described {
  verified: VerifiedIdentity;
  identity: Identity;
  json?: string;
}

// A cached token resolves to the same VerifiedIdentity object every time: its Identity and that
// Identity's JSON are built on its second use and kept as long as the token stays cached. A
// token seen once (most unique tokens) never gets an entry here.
const described = new WeakMap<VerifiedIdentity, Described>();

function describedOnce(verified: VerifiedIdentity): Described {
  let entry = described.get(verified);
  if (entry === undefined) {
    const identity = Object.freeze(describeIdentity(verified));
    entry = { verified, identity, json: JSON.stringify(identity) };
    described.set(verified, entry);
  }
  return entry;
}

/** The reply's view of a verified token: claims that name the bearer, never the token. */
export function describeIdentity(verified: VerifiedIdentity): Identity {
  const c = verified.claims;
  const identity: Identity = { kind: verified.kind, introspector: verified.introspector };
  if (typeof c.iss === 'string') identity.iss = c.iss;
  if (typeof c.sub === 'string') identity.sub = c.sub;
  // Aidbox: box_user before sub.
  const user = typeof c.box_user === 'string' ? c.box_user : identity.sub;
  if (user) identity.user = user;
  const client = [c.client_id, c.azp, c.cid].find((v): v is string => typeof v === 'string' && v !== '');
  if (client) identity.client = client;
  const exp = verified.exp ?? (typeof c.exp === 'number' ? c.exp : undefined);
  if (exp !== undefined) identity.exp = exp;
  const binding = c.cnf === undefined ? undefined : bindingOf(confirmationOf(c));
  if (binding) identity.binding = binding;
  return identity;
}
