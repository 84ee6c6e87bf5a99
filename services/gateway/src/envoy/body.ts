/**
 * The header Envoy's ext_authz filter adds whenever it sends the request body
 * (`with_request_body`): `false` when the body is whole, `true` when it was cut at
 * `max_request_bytes` (`allow_partial_message`). Envoy drops any client-sent copy.
 */
export const PARTIAL_BODY_HEADER = 'x-envoy-auth-partial-body';

/**
 * Why a body Envoy sent cannot be shown to policies as the whole body, or `undefined` when it can
 * (DESIGN §10: a partial body is never shown as the whole body). Fails closed: only Envoy's exact
 * `false` counts as whole — no marker (the HTTP service's `allowed_headers` left it out), `true`,
 * a list or anything else is not. `declaredLength` is the request's own Content-Length where the
 * entry point sees it (gRPC): bytes that do not match it are not the whole body either.
 *
 * @example wholeBodyProblem('false', 47, '47') // undefined
 * @example wholeBodyProblem('true', 65536, undefined) // 'the proxy sent only part of the body'
 */
export function wholeBodyProblem(
  marker: string | string[] | undefined,
  received: number,
  declaredLength: string | string[] | undefined,
): string | undefined {
  if (marker === undefined) {
    return `the proxy did not say whether the body is whole (${PARTIAL_BODY_HEADER}); let Envoy send that header to the gateway`;
  }
  if (marker !== 'false') return 'the proxy sent only part of the body';
  if (
    declaredLength !== undefined &&
    (Array.isArray(declaredLength) || Number(declaredLength) !== received)
  ) {
    return `the proxy sent ${received} bytes of a body whose Content-Length is ${String(declaredLength)}`;
  }
  return undefined;
}
