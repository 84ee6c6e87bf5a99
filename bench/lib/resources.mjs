// The configuration the benchmark runs against: three JWT issuers, one opaque introspector, the
// user the tokens name, the allowing policy and the filler policies of the policy-count scenarios.

/** Issuers of the benchmark's JWTs (one TokenIntrospector each). */
export const ISS = {
  hs: 'https://hs.bench.example',
  rs: 'https://rs.bench.example',
  es: 'https://es.bench.example',
};

/** The user every scenario token names (`sub`). */
export const BENCH_USER = 'bench-user';

/** The request every throughput scenario checks: a FHIR read the allowing policy permits. */
export const PROBE = { method: 'GET', uri: '/fhir/Patient/pt-1?_elements=name' };

/**
 * `smart_scoped` (DESIGN §13): a cached token with ten SMART scopes (`atv: 2`, a patient in
 * context) asking for a compartment-constrained search that also carries its scope's v2
 * constraint (`gender=female`), so the scope step runs in full before the allowing policy.
 */
export const SMART_PROBE = { method: 'GET', uri: '/fhir/Patient?_id=pt-1&gender=female' };
export const SMART_CLAIMS = {
  atv: 2,
  context: { patient: 'pt-1' },
  scope: [
    'openid fhirUser launch/patient offline_access',
    'patient/Patient.rs?gender=female patient/Observation.rs?category=laboratory patient/Condition.rs',
    'patient/MedicationRequest.rs patient/AllergyIntolerance.rs patient/Immunization.rs',
    'patient/Procedure.rs patient/Encounter.rs patient/DiagnosticReport.rs patient/Observation.c',
  ].join(' '),
};

/** The request the config-propagation probes check (allowed only while `flip` is on). */
export const FLIP_URI = '/bench/flip';

/** TokenIntrospectors: HS256 by `jwt.secret`, RS256 and ES256 by `jwt.keys` PEM, opaque by RFC 7662. */
export function introspectors(keys, introspection) {
  return [
    {
      resourceType: 'TokenIntrospector',
      id: 'bench-hs256',
      type: 'jwt',
      jwt: { iss: ISS.hs, secret: keys.hsSecret },
    },
    {
      resourceType: 'TokenIntrospector',
      id: 'bench-rs256',
      type: 'jwt',
      jwt: { iss: ISS.rs, keys: [{ kty: 'RSA', alg: 'RS256', format: 'PEM', pub: keys.rsPublicPem }] },
    },
    {
      resourceType: 'TokenIntrospector',
      id: 'bench-es256',
      type: 'jwt',
      jwt: { iss: ISS.es, keys: [{ kty: 'EC', alg: 'ES256', format: 'PEM', pub: keys.esPublicPem }] },
    },
    {
      resourceType: 'TokenIntrospector',
      id: 'bench-opaque',
      type: 'opaque',
      introspection_endpoint: { url: introspection.url, authorization: introspection.authorization },
      cache_ttl: 3600,
    },
  ];
}

/** A User resource. */
export function user(id) {
  return {
    resourceType: 'User',
    id,
    email: `${id}@bench.example`,
    name: { givenName: 'Bench', familyName: id },
    data: { tenant: `tenant-${id.length % 7}`, roles: ['reader'] },
  };
}

/**
 * The allowing policy. Its id sorts after every filler (`p-…`), so with first-match semantics
 * it is the last one a linear scan would reach.
 */
export const ALLOW_POLICY = {
  resourceType: 'AccessPolicy',
  id: 'zz-allow',
  engine: 'matcho',
  matcho: { 'request-method': 'get', params: { 'resource/type': 'Patient' }, user: { id: BENCH_USER } },
};

/** The policy flipped by the propagation measurement: allows GET /bench/flip only when `on`. */
export function flipPolicy(on) {
  return {
    resourceType: 'AccessPolicy',
    id: 'flip',
    engine: 'matcho',
    matcho: { 'request-method': 'get', uri: on ? FLIP_URI : `${FLIP_URI}-off` },
  };
}

// FHIR R4 resource types the fillers constrain; Patient is among them, so some fillers are real
// candidates for the probe request and are evaluated (and fail on their JWT / user conditions).
const TYPES = (
  'Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent Basic ' +
  'Binary BodyStructure Bundle CapabilityStatement CarePlan CareTeam ChargeItem Claim ClaimResponse ' +
  'ClinicalImpression CodeSystem Communication CommunicationRequest Composition ConceptMap Condition Consent ' +
  'Contract Coverage DetectedIssue Device DeviceMetric DeviceRequest DiagnosticReport DocumentManifest ' +
  'DocumentReference Encounter Endpoint EnrollmentRequest EpisodeOfCare ExplanationOfBenefit FamilyMemberHistory ' +
  'Flag Goal Group GuidanceResponse HealthcareService ImagingStudy Immunization ImplementationGuide Invoice ' +
  'Library Linkage List Location Measure MeasureReport Media Medication MedicationAdministration ' +
  'MedicationDispense MedicationRequest MedicationStatement MessageHeader NutritionOrder Observation ' +
  'OperationOutcome Organization Parameters Patient PaymentNotice Person PlanDefinition Practitioner ' +
  'PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson RequestGroup ' +
  'ResearchStudy ResearchSubject RiskAssessment Schedule SearchParameter ServiceRequest Slot Specimen ' +
  'StructureDefinition Subscription Substance SupplyDelivery SupplyRequest Task ValueSet VisionPrescription'
).split(' ');
const METHODS = ['get', 'post', 'put', 'delete'];

/** Id of the i-th filler policy (sorts before `zz-allow`). */
export const fillerId = (i) => `p-${String(i).padStart(5, '0')}`;

/**
 * The i-th filler policy: never allows the probe request, engines mixed (matcho, json-schema,
 * complex and/or), constraining method, URI, `params.resource/type`, JWT claims and `link`.
 */
export function fillerPolicy(i) {
  // Every (shape, type, method) combination comes up: shape i % 5, then type, then method.
  const j = Math.floor(i / 5);
  const type = TYPES[j % TYPES.length];
  const method = METHODS[Math.floor(j / TYPES.length) % METHODS.length];
  const base = { resourceType: 'AccessPolicy', id: fillerId(i) };
  switch (i % 5) {
    case 0:
      return {
        ...base,
        engine: 'matcho',
        // Half pin a claim to a value, half test one with a regex (which no index can look up).
        matcho: {
          'request-method': method,
          params: { 'resource/type': type },
          jwt: j % 2 === 0 ? { sub: `user-${i}` } : { scope: `#(^| )scope-${i}( |$)` },
        },
      };
    case 1:
      return {
        ...base,
        engine: 'json-schema',
        schema: {
          type: 'object',
          required: ['request-method', 'params', 'jwt'],
          properties: {
            'request-method': { const: method },
            params: {
              type: 'object',
              required: ['resource/type'],
              properties: { 'resource/type': { const: type } },
            },
            jwt: { type: 'object', required: ['scope'], properties: { scope: { const: `scope-${i}` } } },
          },
        },
      };
    case 2:
      return {
        ...base,
        engine: 'complex',
        and: [
          { engine: 'matcho', matcho: { uri: `#^/fhir/${type}(/|$)`, 'request-method': method } },
          {
            engine: 'json-schema',
            schema: {
              required: ['jwt'],
              properties: { jwt: { required: ['role'], properties: { role: { const: `role-${i}` } } } },
            },
          },
        ],
      };
    case 3:
      return {
        ...base,
        engine: 'matcho',
        link: [{ resourceType: 'User', id: `user-${i}` }],
        matcho: { 'request-method': method, params: { 'resource/type': type } },
      };
    default: {
      const version = i % 50;
      return {
        ...base,
        engine: 'complex',
        or: [
          { engine: 'matcho', matcho: { uri: `#^/api/v${version}/orders/`, 'request-method': 'post' } },
          {
            engine: 'json-schema',
            schema: {
              required: ['uri', 'request-method'],
              properties: {
                uri: { type: 'string', pattern: `^/api/v${version}/invoices/` },
                'request-method': { const: 'put' },
              },
            },
          },
        ],
      };
    }
  }
}
