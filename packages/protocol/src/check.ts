import { type Static, Type } from '@sinclair/typebox';
import { MAX_CHECK_HEADERS, MAX_FORM_BODY_LENGTH, MAX_TARGET_LENGTH } from './limits.js';

/** A header value as gateways see it; repeated headers may arrive as a list. */
const HeaderValue = Type.Union([
  Type.String({ maxLength: 65536 }),
  Type.Array(Type.String({ maxLength: 65536 }), { maxItems: 64 }),
]);

/** "May this HTTP request pass?" — the body of `authz.v1.check`. */
export const CheckRequest = Type.Object(
  {
    method: Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z-]+$' }),
    uri: Type.String({ minLength: 1, maxLength: MAX_TARGET_LENGTH }),
    headers: Type.Optional(Type.Record(Type.String(), HeaderValue, { maxProperties: MAX_CHECK_HEADERS })),
    remote_addr: Type.Optional(Type.String({ maxLength: 256 })),
    scheme: Type.Optional(Type.String({ maxLength: 16 })),
    body: Type.Optional(Type.Unknown()),
    /** Why policies cannot see the body (DESIGN §10); no policy allows by reading `body` then. */
    body_unavailable: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    /**
     * The UTF-8 text of a POST's `application/x-www-form-urlencoded` body (FHIR search by POST):
     * policies see its fields in `params` with the query's (DESIGN §10). Never beside `body`.
     */
    body_form: Type.Optional(Type.String({ maxLength: MAX_FORM_BODY_LENGTH })),
    explain: Type.Optional(Type.Boolean()),
    /**
     * The caller checks the upstream's response when the reply asks (`response_check`): the
     * gateway in proxy mode. Without it, a read that needs one is denied (DESIGN §13).
     */
    can_check_response: Type.Optional(Type.Boolean()),
    /**
     * `scheme://host[:port]` the client addressed (DESIGN §13: `GATEWAY_PUBLIC_URL`, else the
     * trusted Host / X-Forwarded-Host / X-Forwarded-Proto); a DPoP proof's `htu` must match it
     * plus the path. Absent: `scheme` and the `host` header.
     */
    origin: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    /** SHA-256 of the client certificate's DER, base64url (RFC 8705 §3.1), from a trusted proxy. */
    client_cert_sha256: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' })),
  },
  { additionalProperties: true },
);
export type CheckRequest = Static<typeof CheckRequest>;
