/**
 * Why a request is refused before any policy sees it (DESIGN §10). One closed list: the gateway,
 * the forward-auth endpoint, the Envoy entry points and the worker all answer from it.
 */
export type RefusalCode =
  | 'target_form'
  | 'target_fragment'
  | 'target_character'
  | 'target_encoding'
  | 'target_dot_segment'
  | 'target_encoded_separator'
  | 'target_empty_segment'
  | 'target_path_parameter'
  | 'target_too_long'
  | 'query_character'
  | 'query_encoding'
  | 'query_credential'
  | 'query_route_parameter'
  | 'query_too_many'
  | 'header_too_many'
  | 'header_ambiguous'
  | 'envoy_attributes'
  | 'method_override'
  | 'target_override'
  | 'forwarded_disagreement'
  | 'body_too_large'
  | 'body_transfer_coding'
  | 'body_json'
  | 'body_form';

/**
 * A refused request: the HTTP status an HTTP entry point answers with (the worker, whose replies
 * know only 400, answers 400), a stable code, and a sentence a person can act on.
 */
export interface RequestRefusal {
  readonly refused: RefusalCode;
  readonly status: 400 | 413 | 414 | 431;
  readonly reason: string;
}

/** Builds a {@link RequestRefusal}. */
export function refuse(
  refused: RefusalCode,
  reason: string,
  status: RequestRefusal['status'] = 400,
): RequestRefusal {
  return { refused, status, reason };
}

/** True for a {@link RequestRefusal}: every parser here returns its result or one of these. */
export function isRefusal(value: unknown): value is RequestRefusal {
  return typeof value === 'object' && value !== null && 'refused' in value;
}
