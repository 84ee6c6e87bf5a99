/**
 * Aidbox's router as data (DESIGN §12): which FHIR interaction a method + path is, and the
 * Operation id Aidbox gives it on a FHIR route (under the FHIR base, `/fhir` by default) and on
 * its own Aidbox-format route (no prefix). Ids are case-sensitive, as in Aidbox's published
 * Operation list (`FhirVread` has a lower-case r).
 *
 * Path patterns are segments after the base: `{type}` a FHIR resource type (`[A-Z][A-Za-z]+`),
 * `{id}` / `{vid}` a FHIR id, `{op}` an operation name (`$validate`), anything else a literal.
 * Rows are tried in order, so a row with literals comes before the generic one it overlaps
 * (`Patient/{id}/$everything` before `{type}/{id}/{op}`).
 */

/** The FHIR interaction a request is (what SMART scopes and Bundle entries are mapped from). */
export type FhirInteraction =
  | 'read'
  | 'vread'
  | 'search'
  | 'search-post'
  | 'compartment-search'
  | 'create'
  | 'update'
  | 'conditional-update'
  | 'patch'
  | 'conditional-patch'
  | 'delete'
  | 'conditional-delete'
  | 'history-instance'
  | 'history-type'
  | 'transaction'
  | 'capabilities'
  | 'operation';

/** Whether a row needs a query string (conditional interactions), forbids it, or does not care. */
export type QueryRule = 'required' | 'any';

/** One route of the table. */
export interface OperationRoute {
  /** HTTP method, upper case; `*` for any (FHIR operations are invoked by GET or POST). */
  readonly method: string;
  /** Segments after the base, `/`-separated; `''` is the base itself. */
  readonly path: string;
  readonly query: QueryRule;
  readonly interaction: FhirInteraction;
  /** Operation id on a FHIR route; `null` takes the `{op}` segment itself (`$validate`). */
  readonly fhir: string | null;
  /** Operation id on an Aidbox-format route; `null` as for `fhir`. */
  readonly aidbox: string | null;
}

const row = (
  method: string,
  path: string,
  interaction: FhirInteraction,
  fhir: string | null,
  aidbox: string | null,
  query: QueryRule = 'any',
): OperationRoute => ({ method, path, query, interaction, fhir, aidbox });

/** DESIGN §12's table, most specific rows first. */
export const OPERATION_ROUTES: readonly OperationRoute[] = [
  row('GET', 'metadata', 'capabilities', 'fhir-capability', 'metadata'),
  row('POST', '', 'transaction', 'FhirTransaction', 'Transaction'),
  row('GET', 'Patient/{id}/$everything', 'operation', 'FhirCompartmentEverything', 'CompartmentEverything'),
  row('GET', 'Observation/$lastn', 'operation', 'FhirObservationLastN', 'ObservationLastN'),
  row('GET', '{type}', 'search', 'FhirSearch', 'Search'),
  row('POST', '{type}/_search', 'search-post', 'FhirPostSearch', 'Search-post'),
  row('GET', 'Patient/{id}/{type}', 'compartment-search', 'FhirCompartmentSearch', 'CompartmentSearch'),
  row('POST', '{type}', 'create', 'FhirCreate', 'Create'),
  row('GET', '{type}/{id}', 'read', 'FhirRead', 'Read'),
  row('GET', '{type}/{id}/_history/{vid}', 'vread', 'FhirVread', 'VRead'),
  row('PUT', '{type}/{id}', 'update', 'FhirUpdate', 'Update'),
  row('PUT', '{type}', 'conditional-update', 'FhirConditionalUpdate', 'ConditionalUpdate', 'required'),
  row('PATCH', '{type}/{id}', 'patch', 'FhirPatch', 'Patch'),
  row('PATCH', '{type}', 'conditional-patch', 'FhirConditionalPatch', 'ConditionalPatch', 'required'),
  row('DELETE', '{type}/{id}', 'delete', 'FhirDelete', 'Delete'),
  row('DELETE', '{type}', 'conditional-delete', 'FhirConditionalDelete', 'ConditionalDelete', 'required'),
  row('GET', '{type}/{id}/_history', 'history-instance', 'FhirHistory', 'HistoryResource'),
  row('GET', '{type}/_history', 'history-type', 'FhirHistoryType', 'HistoryType'),
  row('*', '{op}', 'operation', null, null),
  row('*', '{type}/{op}', 'operation', null, null),
  row('*', '{type}/{id}/{op}', 'operation', null, null),
];
