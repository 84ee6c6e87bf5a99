import type { CheckReply, Identity, RequestRefusal } from '@authz/protocol';
import { DpopProofError, VerifierError, VerifierUnavailableError } from '@authz/verifier';

/**
 * Every way a check is answered without an allowing policy lives here, so the mapping from a
 * failure to status, RFC 6750 error and reason is in exactly one place.
 */
export const replies = {
  /** The check request itself is unusable (400). */
  badRequest(reason: string): CheckReply {
    return { allow: false, status: 400, reason: `malformed check request: ${reason}` };
  },
  /** The request is refused by the rules of DESIGN §10 (400 invalid_request, the rule's reason). */
  refused(refusal: RequestRefusal): CheckReply {
    return { allow: false, status: 400, error: 'invalid_request', reason: refusal.reason };
  },
  /** Authorization header present but not a usable bearer credential (401 invalid_request). */
  badCredentials(reason: string, scheme: 'bearer' | 'dpop' = 'bearer'): CheckReply {
    const reply: CheckReply = { allow: false, status: 401, error: 'invalid_request', reason };
    if (scheme === 'dpop') reply.auth_scheme = 'DPoP';
    return reply;
  },
  /**
   * The verifier refused or could not check the token or its sender binding. A DPoP proof fault
   * is `invalid_dpop_proof` (RFC 9449 §7.1); the challenge is DPoP whenever the client used
   * DPoP or the token needs it (a DPoP-bound token sent as Bearer, RFC 9449 §7.2).
   */
  verificationFailed(err: unknown, scheme: 'bearer' | 'dpop' = 'bearer'): CheckReply {
    // The verifier's stable code travels on the reply, the event and a metric (STYLE "Error codes travel").
    if (err instanceof VerifierUnavailableError) {
      return { allow: false, status: 503, error_code: err.code, reason: err.message };
    }
    if (err instanceof DpopProofError) {
      return {
        allow: false,
        status: 401,
        error: 'invalid_dpop_proof',
        auth_scheme: 'DPoP',
        reason: err.message,
      };
    }
    if (err instanceof VerifierError) {
      const reply: CheckReply = {
        allow: false,
        status: 401,
        error: 'invalid_token',
        error_code: err.code,
        reason: err.message,
      };
      if (scheme === 'dpop' || err.code === 'ERR_TOKEN_BINDING_REQUIRED') reply.auth_scheme = 'DPoP';
      return reply;
    }
    return internalError();
  },
  /** No token and no policy allows anonymous access (401). */
  anonymousDenied(method: string, path: string): CheckReply {
    return {
      allow: false,
      status: 401,
      error: 'invalid_token',
      reason: `${method} ${path} needs a bearer token: the request has none and no AccessPolicy allows anonymous access`,
    };
  },
  /** Authenticated, but no policy allows (403). */
  forbidden(method: string, path: string, identity: Identity): CheckReply {
    return {
      allow: false,
      status: 403,
      reason: `no AccessPolicy allows ${method} ${path} for ${describeWho(identity)}`,
      identity,
    };
  },
  /** HTTP Basic credentials that authenticate no Client (DESIGN §12), or too many failures (401). */
  basicRefused(reason: string): CheckReply {
    return { allow: false, status: 401, error: 'invalid_token', reason };
  },
  /** The request is allowed, a Bundle entry or inline request it carries is not (DESIGN §12). */
  dependentRefused(reason: string, identity: Identity | undefined): CheckReply {
    return identity
      ? { allow: false, status: 403, reason, identity }
      : { allow: false, status: 401, error: 'invalid_token', reason };
  },
  allowed(policy: string, identity: Identity | undefined): CheckReply {
    return identity
      ? { allow: true, status: 200, reason: `allowed by AccessPolicy/${policy}`, policy, identity }
      : { allow: true, status: 200, reason: `allowed by AccessPolicy/${policy}`, policy };
  },
  /** The worker cannot decide right now (503): saturated or not yet configured. */
  unavailable(reason: string): CheckReply {
    return { allow: false, status: 503, reason };
  },
  internalError,
};

/** Who a denial names: the User, the Basic client, or the token's subject, and what accepted them. */
function describeWho(identity: Identity): string {
  if (identity.kind === 'basic') return `Client/${identity.client} (HTTP Basic)`;
  const who = identity.user
    ? `User/${identity.user}`
    : identity.sub
      ? `subject ${identity.sub}`
      : 'the token bearer';
  return `${who} (token accepted by TokenIntrospector/${identity.introspector})`;
}

/** An unexpected failure inside the worker: fail closed. */
function internalError(): CheckReply {
  return {
    allow: false,
    status: 503,
    reason: 'the authorization worker hit an internal error; the request is denied (see worker logs)',
  };
}
