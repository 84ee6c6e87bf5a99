import type { ResourceType } from '../api/types.js';

/** What a new resource of each type starts as in the editor. */
export const TEMPLATES: Readonly<Record<ResourceType, string>> = {
  AccessPolicy: `resourceType: AccessPolicy
engine: matcho
matcho:
  request-method: get
  uri: "#^/fhir/"
`,
  TokenIntrospector: `resourceType: TokenIntrospector
type: jwt
jwt:
  iss: https://auth.example.com
  secret: change-me
`,
  User: `resourceType: User
`,
  Client: `resourceType: Client
`,
  Role: `resourceType: Role
name: admin
user:
  id: some-user-id
`,
};
