import { buildRequestContext, type ContextIdentity, type Subject } from '@authz/policy';
import type { CheckReply, Client, Identity, Role, User } from '@authz/protocol';
import type { TokenVerifier, VerifiedIdentity } from '@authz/verifier';
import type { ConfigState } from './config-state.js';
import { replies } from './replies.js';
import { bearerToken, type ParsedCheck } from './request.js';
import type { UserDirectory } from './users.js';

/** What a decision needs from the worker. */
export interface DecisionDeps {
  config: ConfigState;
  verifier: TokenVerifier;
  users: UserDirectory;
}

/** A decision plus what the decision event needs and the reply does not carry. */
export interface Decision {
  reply: CheckReply;
  /** the bearer token, kept only to scrub it out of `explain` */
  token?: string;
}

const NO_ROLES: ReadonlySet<string> = new Set();

/**
 * Decides one parsed check request (DESIGN §6). Throws only on internal errors, which the
 * caller turns into a 503.
 */
export async function decide(check: ParsedCheck, deps: DecisionDeps): Promise<Decision> {
  const { request, method, path } = check;
  const bearer = bearerToken(request.headers);
  if ('problem' in bearer) return { reply: replies.badCredentials(bearer.problem) };

  let verified: VerifiedIdentity | undefined;
  if ('token' in bearer) {
    try {
      verified = await deps.verifier.verify(bearer.token);
    } catch (err) {
      // A presented token that fails is never downgraded to an anonymous request (§6 step 3).
      return { reply: replies.verificationFailed(err), token: bearer.token };
    }
  }

  const identity = verified ? identityOf(verified) : undefined;
  let user: User | undefined;
  let roles: Role[] = [];
  let client: Client | undefined;
  if (identity?.user) {
    const found = deps.users.get(identity.user);
    user = found instanceof Promise ? await found : found;
    roles = deps.config.rolesOf(identity.user);
  }
  if (identity?.client) client = deps.config.client(identity.client);

  const contextIdentity: ContextIdentity = {};
  if (verified) {
    if (verified.kind === 'jwt') contextIdentity.jwt = verified.claims;
    else contextIdentity.token = verified.claims;
  }
  if (user) contextIdentity.user = user;
  if (roles.length > 0) contextIdentity.role = roles;
  if (client) contextIdentity.client = client;

  const ctx = buildRequestContext(request, contextIdentity);
  const subject: Subject = {
    user: identity?.user,
    client: identity?.client,
    roles: roles.length > 0 ? new Set(roles.map((r) => String(r.name))) : NO_ROLES,
  };
  const explain = request.explain === true;
  const decision = deps.config.policySet.decide(ctx, subject, { explain });

  let reply: CheckReply;
  if (decision.policy !== undefined) reply = replies.allowed(decision.policy, identity);
  else if (identity) reply = replies.forbidden(method, path, identity);
  else reply = replies.anonymousDenied(method, path);
  if (explain) reply.explain = decision.explain ?? [];
  return { reply, token: 'token' in bearer ? bearer.token : undefined };
}

// A cached token resolves to the same VerifiedIdentity object every time; its Identity (and the
// Identity's JSON, see events.ts) is then built once instead of per check.
const identities = new WeakMap<VerifiedIdentity, Identity>();

function identityOf(verified: VerifiedIdentity): Identity {
  let identity = identities.get(verified);
  if (identity === undefined) {
    identity = Object.freeze(describeIdentity(verified));
    identities.set(verified, identity);
  }
  return identity;
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
  return identity;
}
