import type { CheckRequest } from '@authz/protocol';

/**
 * Most entries of a batch/transaction Bundle a check decides (DESIGN §10: a bound refuses, it
 * never truncates). Aidbox-sized init bundles stay well under it; 1000 entries decide in
 * milliseconds.
 */
export const MAX_BUNDLE_ENTRIES = 1000;

/** Methods a Bundle entry may describe (FHIR R4 `Bundle.entry.request.method`). */
const ENTRY_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

// An entry url is relative to the base the Bundle was posted to (`Patient`, `/Patient/1`,
// `Patient?identifier=a|1`). Its path takes the characters of types, ids, `_history`, `_search`
// and `$op` segments only — no percent-encoding, no dot-segments, no empty segments (§10: nothing
// ambiguous is guessed) — and its query no control characters, `#` or `\`.
const ENTRY_PATH = /^[A-Za-z0-9_$][A-Za-z0-9\-._$]*(\/[A-Za-z0-9_$][A-Za-z0-9\-._$]*)*$/;

/** One entry as the request it describes, or why it cannot be one. */
export type BundleEntryRequest =
  | { request: CheckRequest; method: string; path: string }
  | { problem: string };

/** The entries of a Bundle POSTed to `base`, or why the Bundle cannot be decided. */
export type BundleRequests = { entries: BundleEntryRequest[] } | { problem: string };

/**
 * Reads the body of a batch/transaction (DESIGN §12) into one check request per entry: the
 * entry's `request.method` and `url` (joined to the base the Bundle was posted to), its
 * `resource` as the body, and the envelope's headers, address and scheme (same credentials).
 * A Bundle the policies cannot see or read is a `problem`: never allowed.
 *
 * @param base the path the Bundle was posted to (`/fhir`, or `` for Aidbox's `POST /`)
 */
export function bundleRequests(envelope: CheckRequest, base: string): BundleRequests {
  const body = envelope.body as Record<string, unknown> | undefined | null;
  if (body === undefined || body === null) {
    return {
      problem:
        'the Bundle was not shown to the check (send it as JSON with a Content-Length the gateway can read): its entries cannot be authorized',
    };
  }
  if (typeof body !== 'object' || Array.isArray(body) || body.resourceType !== 'Bundle')
    return {
      problem: 'the body is not a Bundle: a POST to the FHIR base takes a batch or transaction Bundle',
    };
  if (body.type !== 'batch' && body.type !== 'transaction')
    return {
      problem: `Bundle.type is ${JSON.stringify(body.type)}: only batch and transaction Bundles are accepted`,
    };
  const entry = body.entry ?? [];
  if (!Array.isArray(entry)) return { problem: 'Bundle.entry is not a list' };
  if (entry.length > MAX_BUNDLE_ENTRIES)
    return {
      problem: `the Bundle has ${entry.length} entries, more than the ${MAX_BUNDLE_ENTRIES} a check decides`,
    };
  return { entries: entry.map((e, i) => entryRequest(envelope, base, e, i)) };
}

function entryRequest(
  envelope: CheckRequest,
  base: string,
  entry: unknown,
  index: number,
): BundleEntryRequest {
  const where = `Bundle.entry[${index}]`;
  const request = isObject(entry) && isObject(entry.request) ? entry.request : undefined;
  if (request === undefined) return { problem: `${where}.request is missing` };
  const method = typeof request.method === 'string' ? request.method.toUpperCase() : '';
  if (!ENTRY_METHODS.has(method))
    return { problem: `${where}.request.method is not one of GET HEAD POST PUT PATCH DELETE` };
  const url = typeof request.url === 'string' ? request.url : '';
  const q = url.indexOf('?');
  const relative = (q < 0 ? url : url.slice(0, q)).replace(/^\//, '');
  const query = q < 0 ? '' : url.slice(q + 1);
  if (!ENTRY_PATH.test(relative) || !plainQuery(query)) {
    return {
      problem: `${where}.request.url ${JSON.stringify(url.slice(0, 100))} is not a relative FHIR url (like "Patient/1" or "Patient?name=x"; no absolute urls, percent-encoded paths or dot-segments)`,
    };
  }
  const path = `${base}/${relative}`;
  const check: CheckRequest = {
    method,
    uri: q < 0 ? path : `${path}?${query}`,
    headers: envelope.headers,
    remote_addr: envelope.remote_addr,
    scheme: envelope.scheme,
  };
  if (isObject(entry) && entry.resource !== undefined) check.body = entry.resource;
  return { request: check, method, path };
}

/** No control characters, spaces, `#` or `\` (DESIGN §10: refused, never normalised). */
function plainQuery(query: string): boolean {
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x23 || c === 0x5c) return false;
  }
  return true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
