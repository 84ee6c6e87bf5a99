/** The seed guide's bodies, verbatim (their slips included: those are what the tests refuse). Shared by the config service's tests and the end-to-end walkthrough. */

export const SEED_INTROSPECTOR_SECRET = `resourceType: TokenIntrospector
id: external-auth-server
type: jwt
jwt:
  iss: https://auth.example.com
  secret: very-secret
`;

export const SEED_POLICY_JSON_SCHEMA = `resourceType: AccessPolicy
id: external-auth-server
engine: json-schema
schema:
  required:
    - jwt
  properties:
    jwt:
      required:
        - iss
      properties:
        iss:
          constant: https://auth.example.com
`;

export const SEED_USER = `resourceType: User
id: some-user-id
data:
  id: basic
  sub: basic
  email: basic@example.com
`;

/** The keys example: repeats resourceType/id (duplicate keys, a 400). */
export const SEED_INTROSPECTOR_KEYS = `resourceType: TokenIntrospector
id: external-auth-server
resourceType: TokenIntrospector
id: with-keys
type: jwt
jwt:
  iss: <AUTH_SERVER_URL>
  keys:
    - pub: <RSA_PUBLIC_KEY>
      kty: RSA
      alg: RS256
      format: PEM
`;

/** The opaque policy: its \`//\` lines are not YAML comments (a 400 naming the line). */
export const SEED_POLICY_OPAQUE = `engine: matcho
matcho:
  // Everything Aidbox retrieved from  introspection_endpoint
  // will be available under \`token\` in AccessPolicy
  token:
    active: true
resourceType: AccessPolicy
`;

/** The opaque introspector. */
export const SEED_INTROSPECTOR_OPAQUE = `resourceType: TokenIntrospector
id: external-auth-server
type: opaque
introspection_endpoint:
  url: https://auth.example.com/introspect
  authorization: Basic Y2xpZW50OnNlY3JldA==
`;
