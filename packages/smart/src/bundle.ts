import { checkScopes, type ScopeVerdict, type SmartRequest, type SmartTarget } from './enforce.js';
import type { SmartGrant } from './scopes/grant.js';

/** Most entries of a batch/transaction checked; a larger Bundle is refused, never half-checked. */
export const MAX_BUNDLE_ENTRIES = 1000;

/** Resolves an entry's `request.method` + origin-form target (`/fhir/Observation?patient=pt1`). */
export type EntryResolver = (method: string, target: string) => SmartTarget | undefined;

/**
 * The scope step of a batch/transaction Bundle (SMART 2.2: "batch and transaction requests
 * should be validated based on the actual requests within them"): every entry is checked as
 * the request it describes — its `request.method` and `url` (relative to the FHIR base), its
 * `resource` as the body — and the first entry refused refuses the Bundle, naming its 0-based
 * index. Entries' responses come back inside the Bundle's, so a read that would need a response
 * check is refused here.
 */
export function checkBundleScopes(
  grant: SmartGrant,
  what: string,
  bundle: unknown,
  fhirBase: string,
  resolve: EntryResolver,
): ScopeVerdict {
  if (
    bundle === null ||
    typeof bundle !== 'object' ||
    (bundle as { resourceType?: unknown }).resourceType !== 'Bundle'
  )
    return {
      allow: false,
      reason: `SMART scopes do not allow ${what}: its body is no Bundle the scopes can be checked against`,
    };
  const entries = (bundle as { entry?: unknown }).entry ?? [];
  if (!Array.isArray(entries) || entries.length > MAX_BUNDLE_ENTRIES)
    return {
      allow: false,
      reason: `SMART scopes do not allow ${what}: Bundle.entry must be a list of at most ${MAX_BUNDLE_ENTRIES} entries`,
    };
  const details: string[] = [];
  for (const [index, entry] of entries.entries()) {
    const request = entryRequest(entry, fhirBase, resolve);
    if (typeof request === 'string')
      return { allow: false, reason: `SMART scopes do not allow ${what}: entry ${index} ${request}` };
    const verdict = checkScopes(grant, request);
    if (!verdict.allow)
      return {
        allow: false,
        reason: `${verdict.reason.replace(/^SMART scopes do not allow /, `SMART scopes do not allow entry ${index} of ${what}, `)}`,
      };
    details.push(`entry ${index}: ${verdict.detail}`);
  }
  return { allow: true, detail: details.length === 0 ? 'an empty Bundle' : details.join('; ') };
}

function entryRequest(entry: unknown, fhirBase: string, resolve: EntryResolver): SmartRequest | string {
  const request = (entry as { request?: { method?: unknown; url?: unknown } } | null)?.request;
  const method = request?.method;
  const url = request?.url;
  if (typeof method !== 'string' || typeof url !== 'string' || url === '' || /^[a-z][a-z0-9+.-]*:/i.test(url))
    return 'has no request.method and relative request.url the scopes can be checked against';
  const target = `${fhirBase}/${url.replace(/^\//, '')}`;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const params: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(q < 0 ? '' : target.slice(q + 1))) {
    const prior = params[key];
    params[key] = prior === undefined ? value : [...(typeof prior === 'string' ? [prior] : prior), value];
  }
  const resource = (entry as { resource?: unknown }).resource;
  return {
    what: `${method.toUpperCase()} ${path}`,
    target: resolve(method.toUpperCase(), target),
    underFhirBase: true,
    params,
    ...(resource === undefined ? { bodyUnavailable: 'the entry has no resource' } : { body: resource }),
    canCheckResponse: false,
    // An entry's search parameters are its url's: a form body is never an entry's.
    bodyParamsSeen: false,
  };
}
