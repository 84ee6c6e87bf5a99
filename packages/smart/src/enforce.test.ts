import { describe, expect, test } from 'vitest';
import { responseRefusal } from './compartment/response.js';
import { checkScopes, type SmartRequest, type SmartTarget } from './enforce.js';
import { compileGrant } from './scopes/grant.js';

const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
const observation = (id: string, patient: string, category = 'laboratory') => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  category: [
    { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: category }] },
  ],
  code: { coding: [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin' }] },
  subject: { reference: `Patient/${patient}` },
  valueQuantity: { value: 13.2, unit: 'g/dL' },
});

function request(
  interaction: string,
  type: string | undefined,
  extra: Partial<SmartRequest> & { id?: string; compartment?: string } = {},
): SmartRequest {
  const target: SmartTarget = {
    id: interaction,
    interaction,
    ...(type ? { resourceType: type } : {}),
    ...(extra.id ? { resourceId: extra.id } : {}),
    ...(extra.compartment ? { compartment: { type: 'Patient', id: extra.compartment } } : {}),
  };
  return {
    what: 'the request',
    target,
    underFhirBase: true,
    params: {},
    canCheckResponse: true,
    bodyParamsSeen: false,
    ...extra,
  };
}

const pt1 = (scope: string) => compileGrant({ scope, context: { patient: 'pt1' } });

describe('the scope step', () => {
  test.each([
    // [scopes, interaction, type, extra, allowed, reason fragment]
    [
      'patient/Patient.read patient/Observation.read',
      'read',
      'Appointment',
      { id: 'a1' },
      false,
      'it needs read (r) on Appointment',
    ],
    [
      'patient/Observation.rs',
      'create',
      'Observation',
      { body: observation('n', 'pt1') },
      false,
      'it needs create (c) on Observation',
    ],
    [
      'user/Observation.rs',
      'search',
      'Observation',
      {},
      true,
      's on Observation granted by user/Observation.rs',
    ],
    ['patient/Observation.rs', 'search', 'Observation', { params: { patient: 'pt1' } }, true, 'confined'],
    [
      'patient/Observation.rs',
      'search',
      'Observation',
      { params: { subject: 'Patient/pt1' } },
      true,
      'confined',
    ],
    ['patient/Observation.rs', 'search', 'Observation', {}, false, 'add patient=pt1'],
    [
      'patient/Observation.rs',
      'search',
      'Observation',
      { params: { patient: 'pt1,pt2' } },
      false,
      'patient=pt1,pt2 does not name Patient/pt1 alone',
    ],
    [
      'patient/Observation.rs',
      'search',
      'Observation',
      { params: { patient: 'pt2' } },
      false,
      'does not name Patient/pt1 alone',
    ],
    [
      'patient/Observation.rs',
      'search',
      'Observation',
      { params: { patient: 'pt1', _revinclude: 'Provenance:target' } },
      false,
      '_revinclude cannot be confined',
    ],
    [
      'patient/Observation.rs',
      'history-type',
      'Observation',
      { params: { patient: 'pt1' } },
      false,
      'a type history cannot be confined',
    ],
    [
      'user/Observation.rs',
      'history-type',
      'Observation',
      {},
      true,
      's on Observation granted by user/Observation.rs',
    ],
    ['patient/Observation.rs', 'compartment-search', 'Observation', { compartment: 'pt1' }, true, 'confined'],
    [
      'patient/Observation.rs',
      'compartment-search',
      'Observation',
      { compartment: 'pt2' },
      false,
      'the compartment searched is Patient/pt2',
    ],
    [
      'patient/Patient.rs',
      'read',
      'Patient',
      { id: 'pt1' },
      true,
      'r on Patient/pt1 granted by patient/Patient.rs',
    ],
    ['patient/Patient.rs', 'search', 'Patient', { params: { _id: 'pt1' } }, true, 'confined'],
    ['patient/Patient.rs', 'search', 'Patient', { params: { name: 'smith' } }, false, 'add _id=pt1'],
    [
      `patient/Observation.rs?category=${LAB}`,
      'search',
      'Observation',
      { params: { patient: 'pt1', category: LAB } },
      true,
      'confined',
    ],
    [
      `patient/Observation.rs?category=${LAB}`,
      'search',
      'Observation',
      { params: { patient: 'pt1' } },
      false,
      `requires the search to carry category=${LAB}`,
    ],
    [
      'patient/Observation.cruds',
      'create',
      'Observation',
      { body: observation('n', 'pt1') },
      true,
      'submitted Observation is within',
    ],
    [
      'patient/Observation.cruds',
      'create',
      'Observation',
      { body: observation('n', 'pt2') },
      false,
      'must reference Patient/pt1',
    ],
    [
      'patient/Observation.cruds',
      'create',
      'Observation',
      { bodyUnavailable: 'too large' },
      false,
      'the body is unavailable (too large)',
    ],
    [
      'patient/Observation.cruds',
      'update',
      'Observation',
      { id: 'o1', body: observation('o1', 'pt1') },
      false,
      'use a conditional update',
    ],
    [
      'patient/Observation.cruds',
      'conditional-update',
      'Observation',
      { params: { _id: 'o1', patient: 'pt1' }, body: observation('o1', 'pt1') },
      true,
      'submitted Observation',
    ],
    [
      'patient/Observation.cruds',
      'conditional-delete',
      'Observation',
      { params: { patient: 'pt1', code: '718-7' } },
      true,
      'confined',
    ],
    [
      'patient/Observation.cud',
      'conditional-delete',
      'Observation',
      { params: { patient: 'pt1' } },
      false,
      'it needs search (s) on Observation',
    ],
    ['patient/Medication.rs', 'read', 'Medication', { id: 'm1' }, true, 'granted by patient/Medication.rs'],
    [
      'patient/Observation.rs',
      'operation',
      'Patient',
      { compartment: 'pt1' },
      false,
      'operation needs read (r) on Patient',
    ],
    [
      'patient/*.rs',
      'operation',
      'Patient',
      { compartment: 'pt1' },
      true,
      'operation on Patient within patient/*.rs, confined',
    ],
    [
      'patient/*.rs',
      'operation',
      'Patient',
      { compartment: 'pt2' },
      false,
      'the compartment searched is Patient/pt2',
    ],
    [
      'patient/*.rs',
      'operation',
      'Observation',
      { id: 'o1' },
      false,
      'an instance operation on a Observation cannot be confined',
    ],
    ['patient/*.rs', 'operation', 'Observation', { params: { patient: 'pt1' } }, true, 'confined'],
    [
      'user/*.rs',
      'operation',
      'Observation',
      { id: 'o1' },
      true,
      'operation on Observation within user/*.rs',
    ],
    ['user/*.cruds', 'operation', undefined, {}, false, 'operation SMART resource scopes do not grant'],
    ['patient/Patient.r', 'capabilities', undefined, {}, true, 'needs no scope'],
    [
      'patient/Observation.rs',
      'search-post',
      'Observation',
      { params: { patient: 'pt1' } },
      false,
      'search with GET',
    ],
    [
      'patient/Observation.rs',
      'search-post',
      'Observation',
      { params: { patient: 'pt1' }, bodyParamsSeen: true },
      true,
      'confined',
    ],
    [
      'patient/Observation.rs',
      'search-post',
      'Observation',
      { params: { patient: ['pt1', 'pt2'] }, bodyParamsSeen: true },
      false,
      'pt2',
    ],
  ] as const)('%s: %s %s %j → %s', (scope, interaction, type, extra, allowed, fragment) => {
    const verdict = checkScopes(pt1(scope), request(interaction, type, extra as Partial<SmartRequest>));
    expect(verdict.allow).toBe(allowed);
    expect(verdict.allow ? verdict.detail : verdict.reason).toContain(fragment);
  });

  test('a conditional create is checked on its answer, or refused without a response check', () => {
    const create = (canCheckResponse: boolean) =>
      request('create', 'Observation', {
        body: observation('n', 'pt1'),
        conditionalCreate: true,
        canCheckResponse,
      });
    expect(checkScopes(pt1('patient/Observation.c'), create(true))).toMatchObject({
      allow: true,
      response: { resourceType: 'Observation', anyOf: [{ patient: { ids: ['pt1'] } }] },
    });
    expect(checkScopes(pt1('patient/Observation.c'), create(false))).toMatchObject({ allow: false });
  });

  test('an $operation passes the scope step only with its Operation link requirement', () => {
    const verdict = checkScopes(pt1('user/*.rs'), request('operation', 'Observation', { id: 'o1' }));
    expect(verdict).toMatchObject({ allow: true, operationLink: 'operation' });
  });

  test('a read by id of a compartment type is allowed only with a response check', () => {
    const grant = pt1('patient/Observation.rs');
    const verdict = checkScopes(grant, request('read', 'Observation', { id: 'o1' }));
    expect(verdict).toMatchObject({ allow: true, response: { resourceType: 'Observation' } });
    const forward = checkScopes(grant, request('read', 'Observation', { id: 'o1', canCheckResponse: false }));
    expect(forward).toMatchObject({ allow: false });
    expect(!forward.allow && forward.reason).toContain(
      'only when the gateway can check the response (proxy mode)',
    );
    if (!verdict.allow || !verdict.response) throw new Error('unreachable');
    expect(responseRefusal(verdict.response, observation('o1', 'pt1'))).toBeUndefined();
    expect(responseRefusal(verdict.response, observation('o-of-pt2', 'pt2'))).toBe(
      "Observation/o-of-pt2 is outside the token's SMART scopes (patient compartment or scope search parameters)",
    );
    expect(
      responseRefusal(verdict.response, { resourceType: 'OperationOutcome', issue: [] }),
    ).toBeUndefined();
    const history = {
      resourceType: 'Bundle',
      type: 'history',
      entry: [{ resource: observation('o1', 'pt1') }, { resource: observation('o1', 'pt2') }],
    };
    expect(responseRefusal(verdict.response, history)).toContain('entry 1: Observation/o1 is outside');
  });

  test('a v2 constraint is checked on the response of a read by id', () => {
    const verdict = checkScopes(
      pt1(`patient/Observation.rs?category=${LAB}`),
      request('read', 'Observation', { id: 'o1' }),
    );
    if (!verdict.allow || !verdict.response) throw new Error('expected a response check');
    expect(responseRefusal(verdict.response, observation('o1', 'pt1'))).toBeUndefined();
    expect(responseRefusal(verdict.response, observation('o1', 'pt1', 'vital-signs'))).toContain('outside');
  });

  test('a bare id names the patient only where the parameter can point at nothing else', () => {
    const grant = pt1('patient/Observation.rs');
    const search = (params: Record<string, string>) =>
      checkScopes(grant, request('search', 'Observation', { params }));
    expect(search({ patient: 'pt1' }).allow).toBe(true); // target: Patient only
    expect(search({ 'subject:Patient': 'pt1' }).allow).toBe(true);
    expect(search({ subject: 'Patient/pt1' }).allow).toBe(true);
    const group = search({ subject: 'pt1' }); // would also match Group/pt1
    expect(!group.allow && group.reason).toContain('subject=pt1 does not name Patient/pt1 alone');
  });

  test('a user/ scope covering the request lifts the compartment', () => {
    const verdict = checkScopes(
      pt1('patient/Observation.rs user/Observation.rs'),
      request('search', 'Observation'),
    );
    expect(verdict).toEqual({ allow: true, detail: 's on Observation granted by user/Observation.rs' });
  });

  test('an unresolved path under the FHIR base is refused; other paths are not FHIR', () => {
    const grant = pt1('user/*.cruds');
    const base = {
      what: 'GET /fhir/_history',
      params: {},
      canCheckResponse: true,
      bodyParamsSeen: false,
      target: undefined,
    };
    expect(checkScopes(grant, { ...base, underFhirBase: true }).allow).toBe(false);
    expect(checkScopes(grant, { ...base, underFhirBase: false }).allow).toBe(true);
  });
});
