/**
 * `@authz/smart` — SMART on FHIR scopes (App Launch 2.2, v1 and v2 grammar, Aidbox 2411+
 * enforcement) and the FHIR R4 Patient compartment, for a gateway in front of any FHIR server
 * (DESIGN §13). Pure: the worker compiles a token's grant once and checks each request; the
 * gateway checks responses of reads by id.
 */
export { checkBundleScopes, type EntryResolver, MAX_BUNDLE_ENTRIES } from './bundle.js';
export { inPatientCompartment, matchesConstraints } from './compartment/resource.js';
export { MAX_CHECKED_ENTRIES, responseRefusal } from './compartment/response.js';
export {
  checkScopes,
  type ResponseAlternative,
  type ResponseRequirement,
  type ScopeVerdict,
  type SmartRequest,
  type SmartTarget,
} from './enforce.js';
export { ScopeError, SmartError, type SmartErrorCode } from './errors.js';
export { loadFhirDefinitions } from './fhir/definitions.js';
export { compileGrant, type SmartGrant } from './scopes/grant.js';
export {
  PERM,
  parseResourceScope,
  parseScopes,
  permLetters,
  type ResourceScope,
  type ScopeLevel,
} from './scopes/parse.js';
export type { PatientContext } from './scopes/patient.js';
