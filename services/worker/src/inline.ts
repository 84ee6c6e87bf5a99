/**
 * Inline requests of a FHIR search (DESIGN §12; Aidbox `BOX_FHIR_SEARCH_AUTHORIZE_INLINE_REQUESTS`):
 * `_include` / `_revinclude` pull resources of other types into the result, so each included
 * type's search must be allowed too. This module only says which types a search includes.
 */

// A FHIR type, as the Operation resolver reads one (DESIGN §12).
const TYPE = /^[A-Z][A-Za-z]+$/;
const INCLUDES = new Set([
  '_include',
  '_revinclude',
  '_include:iterate',
  '_revinclude:iterate',
  '_include:recurse',
  '_revinclude:recurse',
]);
/** FHIR R4 resource types, by lower-cased name: a parameter named after one includes it. */
const R4_TYPES = new Map(
  [
    'Account',
    'ActivityDefinition',
    'AdverseEvent',
    'AllergyIntolerance',
    'Appointment',
    'AppointmentResponse',
    'AuditEvent',
    'Basic',
    'Binary',
    'BiologicallyDerivedProduct',
    'BodyStructure',
    'Bundle',
    'CapabilityStatement',
    'CarePlan',
    'CareTeam',
    'CatalogEntry',
    'ChargeItem',
    'ChargeItemDefinition',
    'Claim',
    'ClaimResponse',
    'ClinicalImpression',
    'CodeSystem',
    'Communication',
    'CommunicationRequest',
    'CompartmentDefinition',
    'Composition',
    'ConceptMap',
    'Condition',
    'Consent',
    'Contract',
    'Coverage',
    'CoverageEligibilityRequest',
    'CoverageEligibilityResponse',
    'DetectedIssue',
    'Device',
    'DeviceDefinition',
    'DeviceMetric',
    'DeviceRequest',
    'DeviceUseStatement',
    'DiagnosticReport',
    'DocumentManifest',
    'DocumentReference',
    'EffectEvidenceSynthesis',
    'Encounter',
    'Endpoint',
    'EnrollmentRequest',
    'EnrollmentResponse',
    'EpisodeOfCare',
    'EventDefinition',
    'Evidence',
    'EvidenceVariable',
    'ExampleScenario',
    'ExplanationOfBenefit',
    'FamilyMemberHistory',
    'Flag',
    'Goal',
    'GraphDefinition',
    'Group',
    'GuidanceResponse',
    'HealthcareService',
    'ImagingStudy',
    'Immunization',
    'ImmunizationEvaluation',
    'ImmunizationRecommendation',
    'ImplementationGuide',
    'InsurancePlan',
    'Invoice',
    'Library',
    'Linkage',
    'List',
    'Location',
    'Measure',
    'MeasureReport',
    'Media',
    'Medication',
    'MedicationAdministration',
    'MedicationDispense',
    'MedicationKnowledge',
    'MedicationRequest',
    'MedicationStatement',
    'MolecularSequence',
    'NamingSystem',
    'NutritionOrder',
    'Observation',
    'ObservationDefinition',
    'OperationDefinition',
    'OperationOutcome',
    'Organization',
    'OrganizationAffiliation',
    'Patient',
    'PaymentNotice',
    'PaymentReconciliation',
    'Person',
    'PlanDefinition',
    'Practitioner',
    'PractitionerRole',
    'Procedure',
    'Provenance',
    'Questionnaire',
    'QuestionnaireResponse',
    'RelatedPerson',
    'RequestGroup',
    'ResearchDefinition',
    'ResearchElementDefinition',
    'ResearchStudy',
    'ResearchSubject',
    'RiskAssessment',
    'RiskEvidenceSynthesis',
    'Schedule',
    'SearchParameter',
    'ServiceRequest',
    'Slot',
    'Specimen',
    'SpecimenDefinition',
    'StructureDefinition',
    'StructureMap',
    'Subscription',
    'Substance',
    'SubstanceNucleicAcid',
    'SubstancePolymer',
    'SubstanceProtein',
    'SubstanceReferenceInformation',
    'SubstanceSourceMaterial',
    'SubstanceSpecification',
    'SupplyDelivery',
    'SupplyRequest',
    'Task',
    'TerminologyCapabilities',
    'TestReport',
    'TestScript',
    'ValueSet',
    'VerificationResult',
    'VisionPrescription',
  ].map((t) => [t.toLowerCase(), t]),
);

/** Most inline requests one search may carry before it is refused instead of decided. */
export const MAX_INLINE_REQUESTS = 32;

/** The types a search includes, or why they cannot be told (refused: never guessed). */
export type IncludedTypes = { types: string[] } | { problem: string };

/**
 * The resource types the `_include` / `_revinclude` parameters of `query` (raw query string) pull
 * in. `_include=Source:param:Target` includes `Target`; without the target, a parameter named
 * after a type (`Patient:organization` → Organization, Aidbox's example) includes that type, and
 * any other is refused with a reason asking for the target (`Observation:subject:Patient`), since
 * guessing among a reference's targets could let a type through unchecked. `_revinclude=Source:…`
 * includes `Source`.
 *
 * @example includedTypes('_include=Patient:organization&_revinclude=Encounter:subject')
 * // { types: ['Organization', 'Encounter'] }
 */
export function includedTypes(query: string): IncludedTypes {
  const types = new Set<string>();
  let count = 0;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const name = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
    if (name === undefined || !INCLUDES.has(name)) continue;
    if (++count > MAX_INLINE_REQUESTS)
      return {
        problem: `the search carries more than ${MAX_INLINE_REQUESTS} _include/_revinclude parameters`,
      };
    const value = safeDecode(eq < 0 ? '' : pair.slice(eq + 1));
    const parts = value?.split(':') ?? [];
    const [source, param, target] = parts;
    const wrote = `${name}=${value ?? pair.slice(eq + 1)}`;
    if (
      parts.length < 2 ||
      parts.length > 3 ||
      !source ||
      !param ||
      !TYPE.test(source) ||
      (target !== undefined && !TYPE.test(target))
    )
      return {
        problem: `${wrote} is not Source:parameter[:Target] with FHIR types (wildcards are not authorized)`,
      };
    if (name.startsWith('_revinclude')) {
      types.add(source);
      continue;
    }
    const included = target ?? typeNamed(param);
    if (included === undefined)
      return {
        problem: `${wrote} does not say which type it includes: name it (${source}:${param}:<Type>) so that type's search can be authorized`,
      };
    types.add(included);
  }
  return { types: [...types] };
}

/** `organization` → `Organization`; `subject`, `general-practitioner` → undefined (no type's name). */
function typeNamed(param: string): string | undefined {
  return R4_TYPES.get(param.toLowerCase());
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
