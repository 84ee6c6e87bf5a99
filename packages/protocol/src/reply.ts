import { type Static, type TSchema, Type } from '@sinclair/typebox';

/** Decision statuses (DESIGN §5). */
export const CheckStatus = Type.Union([
  Type.Literal(200),
  Type.Literal(400),
  Type.Literal(401),
  Type.Literal(403),
  Type.Literal(503),
]);
export type CheckStatus = Static<typeof CheckStatus>;

/** RFC 6750 §3.1 error codes carried on 401. */
export const BearerErrorCode = Type.Union([
  Type.Literal('invalid_token'),
  Type.Literal('invalid_request'),
  // RFC 9449 §7.1: a DPoP proof is missing, invalid or does not fit (DESIGN §13)
  Type.Literal('invalid_dpop_proof'),
]);
export type BearerErrorCode = Static<typeof BearerErrorCode>;

/**
 * The stable code of why a check was refused (`ERR_JWT_EXPIRED`, `ERR_KEY_SOURCE_UNAVAILABLE`, …:
 * the verifier's `VerifierErrorCode`), unchanged from where it was born (STYLE "Error codes travel").
 */
export const ErrorCode = Type.String({ pattern: '^ERR_[A-Z0-9_]+$', maxLength: 64 });

/** How a token is bound to its sender (DESIGN §13), never the proof or the key. */
export const TokenBinding = Type.Union([
  Type.Literal('dpop'),
  Type.Literal('mtls'),
  Type.Literal('dpop+mtls'),
]);

/** Who the request was authenticated as. Never contains the token itself. */
export const Identity = Type.Object(
  {
    /** `basic`: a Client authenticated by HTTP Basic (DESIGN §12), no token */
    kind: Type.Union([Type.Literal('jwt'), Type.Literal('opaque'), Type.Literal('basic')]),
    /** id of the TokenIntrospector that accepted the token (absent for `basic`) */
    introspector: Type.Optional(Type.String()),
    iss: Type.Optional(Type.String()),
    sub: Type.Optional(Type.String()),
    /** User id (`box_user` claim, else `sub`) */
    user: Type.Optional(Type.String()),
    /** client id (`client_id` / `azp` / `cid` claim, or the Basic client) when present */
    client: Type.Optional(Type.String()),
    /** expiry, seconds since the epoch */
    exp: Type.Optional(Type.Number()),
    /** how the token is bound to its sender (`cnf.jkt` → dpop, `cnf["x5t#S256"]` → mtls; DESIGN §13) */
    binding: Type.Optional(TokenBinding),
  },
  { additionalProperties: false },
);
export type Identity = Static<typeof Identity>;

/**
 * Why one candidate policy did or did not allow, when `explain` is asked for. Diagnostic detail
 * that engines grow (`expected`, `actual`, ajv's `errors`), so further fields are accepted.
 */
export interface ExplainEntry {
  policy: string;
  engine: string;
  result: boolean;
  /** A sentence on why the policy failed (or was skipped). */
  detail?: string;
  /** Path into the request context of the first mismatch (matcho), e.g. `request-method`. */
  path?: string;
  expected?: unknown;
  actual?: unknown;
  /** json-schema: ajv's errors. */
  errors?: unknown[];
  /** complex: the nested rules evaluated. */
  children?: ExplainEntry[];
}

/** Schema of {@link ExplainEntry} (recursive: `complex` policies nest their rules). */
export const ExplainEntry: TSchema = Type.Recursive((self) =>
  Type.Object({
    policy: Type.String(),
    engine: Type.String(),
    result: Type.Boolean(),
    detail: Type.Optional(Type.String()),
    path: Type.Optional(Type.String()),
    expected: Type.Optional(Type.Unknown()),
    actual: Type.Optional(Type.Unknown()),
    errors: Type.Optional(Type.Array(Type.Unknown())),
    children: Type.Optional(Type.Array(self)),
  }),
);

/** The verdict fields a reply and its decision event share, one definition for both. */
export const VERDICT_FIELDS = {
  allow: Type.Boolean(),
  status: CheckStatus,
  /** A sentence a person can act on. */
  reason: Type.String(),
  /** RFC 6750 error code, on 401 only. */
  error: Type.Optional(BearerErrorCode),
  /** The verifier's stable code when it refused or could not check the token (DESIGN §14). */
  error_code: Type.Optional(ErrorCode),
  /** id of the AccessPolicy that allowed. */
  policy: Type.Optional(Type.String()),
};

/**
 * What the upstream's response to an allowed read must satisfy before its body reaches the
 * client (SMART patient compartment and v2 scope constraints, DESIGN §13): a resource of
 * `resourceType` (or a Bundle of them, for instance history) for which any alternative holds.
 */
export const ResponseCheck = Type.Object(
  {
    resourceType: Type.String({ maxLength: 64 }),
    anyOf: Type.Array(
      Type.Object(
        {
          /** in the compartment of one of these patients (`Patient/<id>` or an exact absolute URL) */
          patient: Type.Optional(
            Type.Object(
              { ids: Type.Array(Type.String()), urls: Type.Array(Type.String()) },
              { additionalProperties: false },
            ),
          ),
          /** matching every `param=value` (FHIR search semantics of the R4 parameter) */
          constraints: Type.Array(
            Type.Object({ param: Type.String(), value: Type.String() }, { additionalProperties: false }),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 256 },
    ),
  },
  { additionalProperties: false },
);
export type ResponseCheck = Static<typeof ResponseCheck>;

/** The answer to a check request (DESIGN §5). `allow` is true only with status 200. */
export const CheckReply = Type.Object(
  {
    ...VERDICT_FIELDS,
    /** On 401: the challenge scheme (RFC 9449 §7.1 `DPoP`); absent means `Bearer`. */
    auth_scheme: Type.Optional(Type.Literal('DPoP')),
    identity: Type.Optional(Identity),
    /** KV revision of the configuration the decision used. */
    revision: Type.Optional(Type.Integer({ minimum: 0 })),
    explain: Type.Optional(Type.Array(ExplainEntry)),
    request_id: Type.Optional(Type.String()),
    /** On an allow: the caller must check the upstream's response first ({@link ResponseCheck}). */
    response_check: Type.Optional(ResponseCheck),
  },
  { additionalProperties: false },
);

/** The answer to a check request (DESIGN §5). `allow` is true only with status 200. */
export interface CheckReply extends Omit<Static<typeof CheckReply>, 'explain'> {
  explain?: ExplainEntry[];
}
