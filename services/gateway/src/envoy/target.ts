import { isRefusal, parseRequestTarget } from '@authz/protocol';

/**
 * The §10 request-target rules the Envoy entry points apply before a check: `uri` must be
 * origin-form and unambiguous, or the request is refused with 400 rather than normalised.
 * One model for every entry point: this is @authz/protocol's `parseRequestTarget`.
 */
export function targetProblem(uri: string): string | undefined {
  const target = parseRequestTarget(uri);
  return isRefusal(target) ? target.reason : undefined;
}
