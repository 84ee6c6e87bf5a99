import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { FHIR_ID_PATTERN, RESOURCE_TYPES, type ResourceType } from './resource-types.js';

export { FHIR_ID_PATTERN, RESOURCE_TYPES, type ResourceType } from './resource-types.js';

const Id = Type.String({ pattern: FHIR_ID_PATTERN });
const Text = (maxLength = 4096) => Type.String({ maxLength });
const Meta = Type.Optional(Type.Object({}, { additionalProperties: true }));

/** A FHIR-style reference: `{id, resourceType}` (Aidbox) or `{reference: "Type/id"}`. */
export const Reference = Type.Object(
  {
    id: Type.Optional(Id),
    resourceType: Type.Optional(Type.String({ maxLength: 64 })),
    reference: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type Reference = Static<typeof Reference>;

/** JWS algorithms a configured key may be pinned to. */
export const JWS_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

const literals = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)));

/** One entry of `jwt.keys` (Aidbox 2505+). */
export const JwtKey = Type.Object(
  {
    kty: literals(['RSA', 'EC', 'OCT', 'oct', 'OKP'] as const),
    alg: literals(JWS_ALGORITHMS),
    format: literals(['PEM', 'plain', 'JWK'] as const),
    pub: Type.Optional(Type.String({ minLength: 1, maxLength: 16384 })),
    k: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    jwk: Type.Optional(Type.Object({}, { additionalProperties: true })),
    kid: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type JwtKey = Static<typeof JwtKey>;

const StringOrList = Type.Union([
  Type.String({ minLength: 1, maxLength: 2048 }),
  Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { minItems: 1, maxItems: 64 }),
]);

/** A TokenIntrospector: how tokens from one authorization server are verified. */
export const TokenIntrospector = Type.Object(
  {
    resourceType: Type.Literal('TokenIntrospector'),
    id: Type.Optional(Id),
    meta: Meta,
    description: Type.Optional(Text()),
    type: literals(['jwt', 'opaque'] as const),
    jwt: Type.Optional(
      Type.Object(
        {
          iss: Type.String({ minLength: 1, maxLength: 2048 }),
          secret: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
          keys: Type.Optional(Type.Array(JwtKey, { minItems: 1, maxItems: 32 })),
          /** Seen in some Aidbox material; the config service moves it to the top-level `jwks_uri`. */
          jwks_uri: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
          aud: Type.Optional(StringOrList),
          clock_skew: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
          /** Keys from `<iss>/.well-known/openid-configuration`'s `jwks_uri` (DESIGN §14). */
          discovery: Type.Optional(Type.Boolean()),
          /** DESIGN §11: `exp` may lie at most this many seconds ahead (default 86 400) */
          max_lifetime: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    jwks_uri: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    introspection_endpoint: Type.Optional(
      Type.Object(
        {
          url: Type.String({ minLength: 1, maxLength: 2048 }),
          authorization: Type.Optional(Type.String({ maxLength: 4096 })),
          /** DESIGN §11: only tokens starting with this are sent to this endpoint */
          token_prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
          /** JWT-shaped tokens of these issuers (no jwt introspector trusts them) may be sent here */
          jwt_issuers: Type.Optional(
            Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { minItems: 1, maxItems: 64 }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    cache_ttl: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
    /** Enforce SMART on FHIR scopes for every token of this introspector, `atv` or not (DESIGN §13). */
    smart_scopes: Type.Optional(Type.Boolean()),
    /** DESIGN §13: `required` refuses this introspector's tokens unless DPoP-bound and proven. */
    dpop: Type.Optional(literals(['required', 'optional'] as const)),
  },
  { additionalProperties: false },
);
export type TokenIntrospector = Static<typeof TokenIntrospector>;

/**
 * An AccessPolicy rule. Engine-specific members (`schema`, `matcho`, `and`, `or`) are checked by
 * `@authz/policy` when the policy is compiled, which also refuses unsupported engines by name.
 */
export const PolicyRule = Type.Object(
  {
    engine: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    description: Type.Optional(Text()),
    schema: Type.Optional(Type.Unknown()),
    matcho: Type.Optional(Type.Unknown()),
    and: Type.Optional(Type.Array(Type.Unknown(), { minItems: 1, maxItems: 256 })),
    or: Type.Optional(Type.Array(Type.Unknown(), { minItems: 1, maxItems: 256 })),
    sql: Type.Optional(Type.Unknown()),
    rpc: Type.Optional(Type.Unknown()),
    clj: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type PolicyRule = Static<typeof PolicyRule>;

/** An AccessPolicy (Aidbox shape). */
export const AccessPolicy = Type.Composite(
  [
    PolicyRule,
    Type.Object({
      resourceType: Type.Literal('AccessPolicy'),
      id: Type.Optional(Id),
      meta: Meta,
      type: Type.Optional(Type.String({ maxLength: 64 })),
      link: Type.Optional(Type.Array(Reference, { maxItems: 1024 })),
      roleName: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    }),
  ],
  { additionalProperties: false },
);
export type AccessPolicy = Static<typeof AccessPolicy>;

const openResource = <T extends string>(resourceType: T, extra: Record<string, TSchema> = {}) =>
  Type.Object(
    { resourceType: Type.Literal(resourceType), id: Type.Optional(Id), meta: Meta, ...extra },
    { additionalProperties: true },
  );

/** A User. Open content: policies may match any field. */
export const User = openResource('User');
export type User = Static<typeof User> & Record<string, unknown>;

/** A Client (OAuth client). Open content. */
export const Client = openResource('Client');
export type Client = Static<typeof Client> & Record<string, unknown>;

/** A Role: grants `name` to `user`. */
export const Role = openResource('Role', {
  name: Type.String({ minLength: 1, maxLength: 256 }),
  user: Reference,
});
export type Role = Static<typeof Role> & Record<string, unknown>;

/** JSON Schema of each resource type. */
export const RESOURCE_SCHEMAS: Record<ResourceType, TSchema> = {
  TokenIntrospector,
  AccessPolicy,
  User,
  Client,
  Role,
};

/** Any stored resource. */
export type Resource = TokenIntrospector | AccessPolicy | User | Client | Role;

/** KV key of a resource: `<resourceType>.<id>`. */
export function resourceKey(type: ResourceType, id: string): string {
  return `${type}.${id}`;
}

/** Splits a KV key back into type and id; `undefined` for keys that are not resources. */
export function parseResourceKey(key: string): { type: ResourceType; id: string } | undefined {
  const dot = key.indexOf('.');
  if (dot <= 0) return undefined;
  const type = key.slice(0, dot) as ResourceType;
  if (!RESOURCE_TYPES.includes(type)) return undefined;
  return { type, id: key.slice(dot + 1) };
}

/** Whether `value` names one of the stored resource types. */
export function isResourceType(value: string): value is ResourceType {
  return (RESOURCE_TYPES as readonly string[]).includes(value);
}

/** The id a {@link Reference} points at when it names `type` (or has no type), else `undefined`. */
export function referenceId(ref: Reference, type: string): string | undefined {
  if (ref.reference) {
    const [t, id] = ref.reference.split('/');
    return t === type && id ? id : undefined;
  }
  if (ref.resourceType && ref.resourceType !== type) return undefined;
  return ref.id;
}
