import { METHOD_OVERRIDE_HEADERS, TARGET_OVERRIDE_HEADERS } from '@authz/protocol';
import type { Denial } from '../responses.js';

/** gRPC status codes of an ext_authz answer (google.rpc.Code). */
export const GrpcCode = { OK: 0, PERMISSION_DENIED: 7, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

/** `envoy.config.core.v3.HeaderValueOption` as the gateway writes it. */
export interface HeaderValueOption {
  header: { key: string; value: string };
  append: { value: boolean };
  append_action: 'OVERWRITE_IF_EXISTS_OR_ADD';
}

/** `envoy.service.auth.v3.CheckResponse` as the gateway writes it (proto field names). */
export interface EnvoyCheckResponse {
  status: { code: number; message: string };
  ok_response?: { headers: HeaderValueOption[]; headers_to_remove: string[] };
  denied_response?: { status: { code: number }; headers: HeaderValueOption[]; body: string };
}

/**
 * The request headers an allow tells Envoy to remove before it forwards the request (gRPC
 * `headers_to_remove`, HTTP `x-envoy-auth-headers-to-remove`): every client-sent identity-like
 * header the answer does not set — Envoy removes after it sets, so a header listed there and also
 * set would be lost — and always the method- and target-override headers. A request the gateway
 * saw with an override was refused (DESIGN §10), so removing them changes nothing it checked; but Envoy's
 * `allowed_headers` may hide headers from the gateway, and a hidden override must not reach an
 * upstream that honours it.
 */
export function headersToRemove(set: Record<string, string>, identityLike: readonly string[]): string[] {
  return [
    ...identityLike.filter((name) => !Object.hasOwn(set, name)),
    ...METHOD_OVERRIDE_HEADERS,
    ...TARGET_OVERRIDE_HEADERS,
  ];
}

/**
 * An allow: `status.code` 0, the identity headers set with overwrite semantics (both the legacy
 * `append: false` and `append_action`, DESIGN §14), and {@link headersToRemove}.
 */
export function allowResponse(
  set: Record<string, string>,
  identityLike: readonly string[],
): EnvoyCheckResponse {
  return {
    status: { code: GrpcCode.OK, message: '' },
    ok_response: {
      headers: Object.entries(set).map(([key, value]) => overwrite(key, value)),
      headers_to_remove: headersToRemove(set, identityLike),
    },
  };
}

/**
 * A denial: UNAUTHENTICATED for 401, UNAVAILABLE for 503, PERMISSION_DENIED for 403 and every
 * refusal of the request itself (400, 413, 414, 431), with the HTTP answer Envoy sends the client.
 */
export function deniedResponse(denial: Denial, reason: string): EnvoyCheckResponse {
  return {
    status: { code: grpcCodeOf(denial.status), message: reason },
    denied_response: {
      status: { code: denial.status },
      headers: Object.entries(denial.headers).map(([key, value]) => overwrite(key, value)),
      body: denial.body,
    },
  };
}

/** DESIGN §14's status table. */
export function grpcCodeOf(httpStatus: number): number {
  if (httpStatus === 401) return GrpcCode.UNAUTHENTICATED;
  if (httpStatus === 503) return GrpcCode.UNAVAILABLE;
  return GrpcCode.PERMISSION_DENIED;
}

function overwrite(key: string, value: string): HeaderValueOption {
  return { header: { key, value }, append: { value: false }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
}
