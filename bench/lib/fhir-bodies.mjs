// FHIR JSON bodies for the body-carrying scenarios: realistic resources of a chosen size.

/** An Observation (blood-pressure panel) for Patient/pt-1 grown with components to ≥ `bytes` of JSON. */
export function observation(bytes) {
  const obs = {
    resourceType: 'Observation',
    status: 'final',
    meta: { profile: ['http://hl7.org/fhir/StructureDefinition/vitalsigns'] },
    category: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/observation-category',
            code: 'vital-signs',
            display: 'Vital Signs',
          },
        ],
      },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure panel' }] },
    subject: { reference: 'Patient/pt-1' },
    effectiveDateTime: '2026-01-01T10:00:00Z',
    component: [],
  };
  for (let i = 0; JSON.stringify(obs).length < bytes; i++) {
    obs.component.push({
      code: {
        coding: [{ system: 'http://loinc.org', code: `8480-${i % 10}`, display: 'Systolic blood pressure' }],
      },
      valueQuantity: {
        value: 100 + (i % 40),
        unit: 'mmHg',
        system: 'http://unitsofmeasure.org',
        code: 'mm[Hg]',
      },
    });
  }
  return obs;
}

/** A transaction Bundle of `n` Observation creates (`POST Observation`), each a small resource. */
export function transactionBundle(n) {
  const resource = observation(0);
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: Array.from({ length: n }, (_, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource,
      request: { method: 'POST', url: 'Observation' },
    })),
  };
}
