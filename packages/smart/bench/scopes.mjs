// In-process cost of the SMART scope step (DESIGN §13), built package: node packages/smart/bench/scopes.mjs
import { checkScopes, compileGrant, loadFhirDefinitions, responseRefusal } from '../dist/index.js';

const N = 100_000;
const claims = {
  atv: 2,
  context: { patient: 'pt-1' },
  scope:
    'openid fhirUser launch/patient offline_access patient/Patient.rs?gender=female ' +
    'patient/Observation.rs?category=laboratory patient/Condition.rs patient/MedicationRequest.rs ' +
    'patient/AllergyIntolerance.rs patient/Immunization.rs patient/Procedure.rs patient/Encounter.rs ' +
    'patient/DiagnosticReport.rs patient/Observation.c',
};
const t = performance.now();
loadFhirDefinitions();
console.log(`load R4 definitions: ${(performance.now() - t).toFixed(1)} ms (once per process)`);

function time(label, fn) {
  for (let i = 0; i < 10_000; i++) fn();
  const start = performance.now();
  for (let i = 0; i < N; i++) fn();
  console.log(`${label}: ${(((performance.now() - start) * 1000) / N).toFixed(2)} µs`);
}

time('compile a grant (10 scopes; once per cached token)', () => compileGrant(claims));
const grant = compileGrant(claims);
const search = {
  what: 'GET /fhir/Patient',
  target: { id: 'FhirSearch', interaction: 'search', resourceType: 'Patient' },
  underFhirBase: true,
  params: { _id: 'pt-1', gender: 'female' },
  canCheckResponse: true,
  bodyParamsSeen: false,
};
time('coverage check: compartment-constrained search', () => checkScopes(grant, search));
const read = {
  what: 'GET /fhir/Observation/o1',
  target: { id: 'FhirRead', interaction: 'read', resourceType: 'Observation', resourceId: 'o1' },
  underFhirBase: true,
  params: {},
  canCheckResponse: true,
  bodyParamsSeen: false,
};
time('coverage check: read by id (response requirement)', () => checkScopes(grant, read));
const verdict = checkScopes(grant, read);
if (!verdict.allow || !verdict.response) throw new Error('the read should allow with a response requirement');
const requirement = verdict.response;
const observation = {
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  category: [
    {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }],
    },
  ],
  code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
  subject: { reference: 'Patient/pt-1' },
  performer: [{ reference: 'Practitioner/pr-1' }],
  valueQuantity: { value: 13.2, unit: 'g/dL' },
};
time('response check: Observation in compartment + category constraint', () =>
  responseRefusal(requirement, observation),
);
const body = JSON.stringify(observation);
time('response check incl. JSON.parse', () => responseRefusal(requirement, JSON.parse(body)));
