import { describe, expect, it } from 'vitest';
import { compileOperationResolver } from './resolve.js';
import { OPERATION_ROUTES } from './routes.js';

const ops = compileOperationResolver();
const resolve = (method: string, target: string) => ops.resolveTarget(method, target);

// DESIGN §12's table, each row on its FHIR route and its Aidbox-format route:
// [method, FHIR target, FHIR id, Aidbox-format target, Aidbox id, interaction, what it acts on].
type Row = [string, string, string, string, string, string, Record<string, unknown>];
const TABLE: Row[] = [
  [
    'GET',
    '/fhir/Patient/pt-1',
    'FhirRead',
    '/Patient/pt-1',
    'Read',
    'read',
    { resourceType: 'Patient', resourceId: 'pt-1' },
  ],
  [
    'GET',
    '/fhir/Patient/pt-1/_history/2',
    'FhirVread',
    '/Patient/pt-1/_history/2',
    'VRead',
    'vread',
    { resourceType: 'Patient', resourceId: 'pt-1', versionId: '2' },
  ],
  [
    'GET',
    '/fhir/Patient?name=x',
    'FhirSearch',
    '/Patient?name=x',
    'Search',
    'search',
    { resourceType: 'Patient' },
  ],
  [
    'POST',
    '/fhir/Patient/_search',
    'FhirPostSearch',
    '/Patient/_search',
    'Search-post',
    'search-post',
    { resourceType: 'Patient' },
  ],
  [
    'GET',
    '/fhir/Patient/pt-1/Observation',
    'FhirCompartmentSearch',
    '/Patient/pt-1/Observation',
    'CompartmentSearch',
    'compartment-search',
    { resourceType: 'Observation', compartment: { type: 'Patient', id: 'pt-1' } },
  ],
  ['POST', '/fhir/Patient', 'FhirCreate', '/Patient', 'Create', 'create', { resourceType: 'Patient' }],
  [
    'POST',
    '/fhir/Patient?identifier=a|1',
    'FhirCreate',
    '/Patient?identifier=a|1',
    'Create',
    'create',
    { resourceType: 'Patient' },
  ],
  [
    'PUT',
    '/fhir/Patient/pt-1',
    'FhirUpdate',
    '/Patient/pt-1',
    'Update',
    'update',
    { resourceType: 'Patient', resourceId: 'pt-1' },
  ],
  [
    'PUT',
    '/fhir/Patient?identifier=a|1',
    'FhirConditionalUpdate',
    '/Patient?identifier=a|1',
    'ConditionalUpdate',
    'conditional-update',
    { resourceType: 'Patient' },
  ],
  [
    'PATCH',
    '/fhir/Patient/pt-1',
    'FhirPatch',
    '/Patient/pt-1',
    'Patch',
    'patch',
    { resourceType: 'Patient', resourceId: 'pt-1' },
  ],
  [
    'PATCH',
    '/fhir/Patient?name=x',
    'FhirConditionalPatch',
    '/Patient?name=x',
    'ConditionalPatch',
    'conditional-patch',
    { resourceType: 'Patient' },
  ],
  [
    'DELETE',
    '/fhir/Patient/pt-1',
    'FhirDelete',
    '/Patient/pt-1',
    'Delete',
    'delete',
    { resourceType: 'Patient', resourceId: 'pt-1' },
  ],
  [
    'DELETE',
    '/fhir/Patient?identifier=abc',
    'FhirConditionalDelete',
    '/Patient?identifier=abc',
    'ConditionalDelete',
    'conditional-delete',
    { resourceType: 'Patient' },
  ],
  [
    'GET',
    '/fhir/Patient/pt-1/_history',
    'FhirHistory',
    '/Patient/pt-1/_history',
    'HistoryResource',
    'history-instance',
    { resourceType: 'Patient', resourceId: 'pt-1' },
  ],
  [
    'GET',
    '/fhir/Patient/_history',
    'FhirHistoryType',
    '/Patient/_history',
    'HistoryType',
    'history-type',
    { resourceType: 'Patient' },
  ],
  ['POST', '/fhir', 'FhirTransaction', '/', 'Transaction', 'transaction', {}],
  ['GET', '/fhir/metadata', 'fhir-capability', '/metadata', 'metadata', 'capabilities', {}],
  [
    'GET',
    '/fhir/Patient/pt-1/$everything',
    'FhirCompartmentEverything',
    '/Patient/pt-1/$everything',
    'CompartmentEverything',
    'operation',
    { resourceType: 'Patient', compartment: { type: 'Patient', id: 'pt-1' }, operationName: '$everything' },
  ],
  [
    'GET',
    '/fhir/Observation/$lastn?code=x',
    'FhirObservationLastN',
    '/Observation/$lastn',
    'ObservationLastN',
    'operation',
    { resourceType: 'Observation', operationName: '$lastn' },
  ],
  [
    'POST',
    '/fhir/$validate',
    '$validate',
    '/$validate',
    '$validate',
    'operation',
    { operationName: '$validate' },
  ],
  [
    'POST',
    '/fhir/Patient/$validate',
    '$validate',
    '/Patient/$validate',
    '$validate',
    'operation',
    { resourceType: 'Patient', operationName: '$validate' },
  ],
  [
    'GET',
    '/fhir/Patient/pt-1/$health-cards-issue',
    '$health-cards-issue',
    '/Patient/pt-1/$health-cards-issue',
    '$health-cards-issue',
    'operation',
    { resourceType: 'Patient', resourceId: 'pt-1', operationName: '$health-cards-issue' },
  ],
  [
    'GET',
    '/fhir/Encounter/e-1/$everything',
    '$everything',
    '/Encounter/e-1/$everything',
    '$everything',
    'operation',
    { resourceType: 'Encounter', resourceId: 'e-1', operationName: '$everything' },
  ],
];

describe('Operation resolver (DESIGN §12)', () => {
  it.each(TABLE)(
    '%s %s → %s; %s → %s',
    (method, fhirTarget, fhirId, aidboxTarget, aidboxId, interaction, acts) => {
      expect(resolve(method, fhirTarget)).toEqual({
        id: fhirId,
        ref: { resourceType: 'Operation', id: fhirId },
        interaction,
        format: 'fhir',
        ...acts,
      });
      expect(resolve(method, aidboxTarget)).toMatchObject({
        id: aidboxId,
        interaction,
        format: 'aidbox',
        ...acts,
      });
    },
  );

  it('covers every row of the route table', () => {
    const hit = new Set(TABLE.map(([m, t]) => `${resolve(m, t)?.interaction}:${m}`));
    for (const route of OPERATION_ROUTES) {
      const method = route.method === '*' ? 'POST' : route.method;
      expect([...hit].some((h) => h.endsWith(`:${method}`) && h.startsWith(route.interaction))).toBe(true);
    }
  });

  it.each([
    ['GET', '/fhir/patient/1', 'a type must start upper case'],
    ['GET', '/fhir/Patient1/1', 'a type has letters only'],
    ['GET', '/fhir/P', 'a type has two letters at least'],
    ['GET', '/fhir/Patient/a_b', 'an id has no underscore'],
    ['GET', `/fhir/Patient/${'a'.repeat(256)}`, 'an id is at most 255 characters'],
    ['GET', '/fhir/Patient/pt-1/_history/a_b', 'a vid is an id'],
    ['GET', '/fhir/Patient/pt%2D1', 'a percent-encoded id is not an id'],
    ['PUT', '/fhir/Patient', 'an update needs an id or, conditional, a query'],
    ['PUT', '/fhir/Patient?', 'an empty query is no condition'],
    ['PATCH', '/fhir/Patient', 'a patch needs an id or a query'],
    ['DELETE', '/fhir/Patient', 'a delete needs an id or a query'],
    ['GET', '/fhir', 'a system search has no Aidbox id'],
    ['GET', '/fhir/_history', 'nor a system history'],
    ['POST', '/fhir/Patient/pt-1', 'POST to an instance'],
    ['GET', '/fhir/Patient/pt-1/Observation/o-1', 'five segments'],
    ['GET', '/fhir//Patient', 'an empty segment'],
    ['GET', '/fhir/Patient/', 'a trailing empty segment'],
    ['POST', '/fhir/$', 'an operation needs a name'],
    ['POST', '/fhir/$1abc', 'an operation name starts with a letter'],
    ['POST', '/fhir/$a.b', 'an operation name has no dots'],
    ['POST', '/fhir/Patient/pt-1/_history/$x', 'an operation is not a version'],
    ['GET', '/fhirPatient', 'the base is a whole segment'],
    ['GET', '/api/Patient/1', 'lower-case first segment outside the base'],
    ['GET', '/fhir/Practitioner/p-1/Observation', 'compartment search is the Patient compartment'],
    ['OPTIONS', '/fhir/Patient/1', 'a method the table does not name'],
  ])('%s %s has no operation (%s)', (method, target) => {
    expect(resolve(method, target)).toBeUndefined();
  });

  it('matches methods in any case and shares one frozen ref per id', () => {
    const a = resolve('get', '/fhir/Patient/1');
    const b = resolve('GET', '/fhir/Observation/2');
    expect(a?.id).toBe('FhirRead');
    expect(a?.ref).toBe(b?.ref);
    expect(Object.isFrozen(a?.ref)).toBe(true);
  });

  it('takes its FHIR base from the deployment (AUTHZ_FHIR_BASE)', () => {
    const r4 = compileOperationResolver({ fhirBase: '/api/r4' });
    expect(r4.resolveTarget('GET', '/api/r4/Patient/1')?.id).toBe('FhirRead');
    expect(r4.resolveTarget('POST', '/api/r4')?.id).toBe('FhirTransaction');
    expect(r4.resolveTarget('GET', '/fhir/Patient/1')).toBeUndefined();
    expect(r4.resolveTarget('GET', '/Patient/1')?.id).toBe('Read');
  });

  it.each(['', '/', 'fhir', '/fhir/', '/a//b', '/a/../b'])('refuses the FHIR base %j', (fhirBase) => {
    expect(() => compileOperationResolver({ fhirBase })).toThrow(/must be a path like \/fhir/);
  });
});
