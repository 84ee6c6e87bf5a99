/**
 * Aidbox's documented policies keyed on its router's Operations (DESIGN §12), with the requests
 * and the decisions Aidbox's docs give them. Sources: `HealthSamurai/aidbox-docs`,
 * `docs/tutorials/security-access-control-tutorials/accesspolicy-examples.md` (numbered
 * examples) and `restrict-operations-on-resource-type.md`. Shared by the policy package's unit
 * test (context → PolicySet) and the end-to-end test (gateway → worker).
 *
 * Where an example cannot run verbatim here, the difference is stated on it: its `sql` step
 * (refused at PUT, a 422 naming the engine) is left out, and `session.role` reads `role`.
 */

/** Who sends a row's request. */
export type ExampleCaller =
  /** anonymous */
  | undefined
  /** a JWT whose `sub` names this User, with extra claims */
  | { user: string; claims?: Record<string, unknown> }
  /** a JWT without a User */
  | { claims: Record<string, unknown> }
  /** HTTP Basic as this Client (its secret is {@link exampleClientSecret}) */
  | { client: string };

/** One request of an example and Aidbox's answer to it. */
export interface ExampleRow {
  what: string;
  method: string;
  uri: string;
  body?: unknown;
  as: ExampleCaller;
  /** 200 allowed; 403 denied (authenticated); 401 denied (anonymous). */
  status: 200 | 401 | 403;
  /** What the reason must say, when it matters (a Bundle entry's index). */
  reason?: RegExp;
}

/** One documented example: its policies and rows. */
export interface AidboxExample {
  name: string;
  policies: Record<string, unknown>[];
  rows: ExampleRow[];
}

/** The Users the examples' callers name. */
export const EXAMPLE_USERS: Record<string, unknown>[] = [
  { resourceType: 'User', id: 'u-pt', fhirUser: { id: 'pt-1', resourceType: 'Patient' } },
  { resourceType: 'User', id: 'user-1' },
  { resourceType: 'User', id: 'u-pr', data: { practitioner_id: 'pr-1' } },
  { resourceType: 'User', id: 'u-none' },
];

/** Example #3's Role (Aidbox docs: a Role linking the User to a Practitioner). */
export const EXAMPLE_ROLES: Record<string, unknown>[] = [
  {
    resourceType: 'Role',
    id: 'practitioner-1',
    name: 'practitioner-1',
    user: { reference: 'User/user-1' },
    links: { practitioner: { reference: 'Practitioner/pr-1' } },
  },
];

/** The Basic clients of examples #4, #5, #18 (Aidbox: `grant_types: [basic]`). */
export const EXAMPLE_CLIENTS: Record<string, unknown>[] = ['system1-client', 'client-id'].map((id) => ({
  resourceType: 'Client',
  id,
  secret: exampleClientSecret(id),
  grant_types: ['basic'],
}));

/** The plain secret of an example Client (stored hashed by the config service). */
export function exampleClientSecret(id: string): string {
  return `${id}-secret`;
}

const policy = (id: string, body: Record<string, unknown>) => ({ resourceType: 'AccessPolicy', id, ...body });
const pr1 = { user: 'u-pr' } as const;

/** A transaction Bundle of the given `[method, url, resource]` entries. */
export function exampleBundle(
  type: string,
  entries: Array<[string, string, unknown?]>,
): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type,
    entry: entries.map(([method, url, resource]) => ({
      request: { method, url },
      ...(resource === undefined ? {} : { resource }),
    })),
  };
}

export const AIDBOX_OPERATION_EXAMPLES: AidboxExample[] = [
  {
    name: '#2 a user views their own patient (link Operation/FhirRead)',
    policies: [
      policy('as-patient-get-patient-data', {
        engine: 'matcho',
        link: [{ reference: 'Operation/FhirRead' }],
        matcho: { params: { 'resource/id': '.user.fhirUser.id', 'resource/type': 'Patient' } },
      }),
    ],
    rows: [
      {
        what: 'reads their patient',
        method: 'GET',
        uri: '/fhir/Patient/pt-1',
        as: { user: 'u-pt' },
        status: 200,
      },
      {
        what: 'another patient',
        method: 'GET',
        uri: '/fhir/Patient/pt-2',
        as: { user: 'u-pt' },
        status: 403,
      },
      {
        what: 'a search is no FhirRead',
        method: 'GET',
        uri: '/fhir/Patient?_id=pt-1',
        as: { user: 'u-pt' },
        status: 403,
      },
      {
        what: 'a delete is no FhirRead',
        method: 'DELETE',
        uri: '/fhir/Patient/pt-1',
        as: { user: 'u-pt' },
        status: 403,
      },
      {
        what: 'the Aidbox route is Read',
        method: 'GET',
        uri: '/Patient/pt-1',
        as: { user: 'u-pt' },
        status: 403,
      },
    ],
  },
  {
    name: '#3 a practitioner views all observations (link Operation/FhirSearch; session.role read as role)',
    policies: [
      policy('as-practitioner-get-all-observations', {
        engine: 'matcho',
        link: [{ reference: 'Operation/FhirSearch' }],
        matcho: { role: { $contains: { links: { practitioner: 'present?' } } } },
      }),
    ],
    rows: [
      {
        what: 'searches observations',
        method: 'GET',
        uri: '/fhir/Observation',
        as: { user: 'user-1' },
        status: 200,
      },
      {
        what: 'reads one (FhirRead)',
        method: 'GET',
        uri: '/fhir/Observation/o-1',
        as: { user: 'user-1' },
        status: 403,
      },
      {
        what: 'a user without the role',
        method: 'GET',
        uri: '/fhir/Observation',
        as: { user: 'u-none' },
        status: 403,
      },
    ],
  },
  {
    name: '#4 a system updates its patients (Operation/FhirConditionalUpdate OR Client/system1-client; resource)',
    policies: [
      policy('as-system1-app-update-patients', {
        engine: 'matcho',
        link: [{ reference: 'Operation/FhirConditionalUpdate' }, { reference: 'Client/system1-client' }],
        matcho: {
          params: { 'resource/type': 'Patient', identifier: '#http://system1' },
          resource: { identifier: { $contains: { system: 'http://system1' } } },
        },
      }),
    ],
    rows: [
      {
        what: 'a conditional update of its patient',
        method: 'PUT',
        uri: '/fhir/Patient?identifier=http://system1|12345',
        body: { resourceType: 'Patient', identifier: [{ system: 'http://system1', value: '12345' }] },
        as: { client: 'system1-client' },
        status: 200,
      },
      {
        what: 'a body of another system',
        method: 'PUT',
        uri: '/fhir/Patient?identifier=http://system1|12345',
        body: { resourceType: 'Patient', identifier: [{ system: 'http://system2', value: '1' }] },
        as: { client: 'system1-client' },
        status: 403,
      },
      {
        what: "the docs' sample PUT /fhir/Patient/123 has no identifier parameter",
        method: 'PUT',
        uri: '/fhir/Patient/123',
        body: {
          resourceType: 'Patient',
          id: '123',
          identifier: [{ system: 'http://system1', value: '12345' }],
        },
        as: { client: 'system1-client' },
        status: 403,
      },
      {
        what: 'links are OR-ed: any caller of FhirConditionalUpdate is a candidate',
        method: 'PUT',
        uri: '/fhir/Patient?identifier=http://system1|9',
        body: { resourceType: 'Patient', identifier: [{ system: 'http://system1', value: '9' }] },
        as: { user: 'u-none' },
        status: 200,
      },
      {
        what: 'a search by a JWT caller is neither linked operation nor client',
        method: 'GET',
        uri: '/fhir/Patient?identifier=http://system1|9',
        as: { user: 'u-none' },
        status: 403,
      },
    ],
  },
  {
    name: '#5 a system searches its patients (Operation/FhirSearch OR Client/system1-client)',
    policies: [
      policy('as-system1-app-read-patients', {
        engine: 'matcho',
        link: [{ reference: 'Operation/FhirSearch' }, { reference: 'Client/system1-client' }],
        matcho: { params: { 'resource/type': 'Patient', identifier: '#http://system1' } },
      }),
    ],
    rows: [
      {
        what: "the docs' request",
        method: 'GET',
        uri: '/fhir/Patient?id=123&identifier=http://system1|123',
        as: { client: 'system1-client' },
        status: 200,
      },
      {
        what: 'another system',
        method: 'GET',
        uri: '/fhir/Patient?identifier=http://system2|123',
        as: { client: 'system1-client' },
        status: 403,
      },
      {
        what: 'observations',
        method: 'GET',
        uri: '/fhir/Observation?identifier=http://system1|1',
        as: { client: 'system1-client' },
        status: 403,
      },
    ],
  },
  {
    name: '#12 a practitioner reads their patients (link Operation/FhirSearch)',
    policies: [
      policy('as-practitioner-allowed-to-see-his-patients', {
        engine: 'matcho',
        link: [{ reference: 'Operation/FhirSearch' }],
        matcho: {
          params: { 'resource/type': 'Patient', 'general-practitioner': '.user.data.practitioner_id' },
          user: { data: { practitioner_id: 'present?' } },
        },
      }),
    ],
    rows: [
      {
        what: 'their patients',
        method: 'GET',
        uri: '/fhir/Patient?general-practitioner=pr-1',
        as: pr1,
        status: 200,
      },
      {
        what: "another's",
        method: 'GET',
        uri: '/fhir/Patient?general-practitioner=pr-2',
        as: pr1,
        status: 403,
      },
      {
        what: 'no practitioner_id',
        method: 'GET',
        uri: '/fhir/Patient?general-practitioner=pr-1',
        as: { user: 'u-none' },
        status: 403,
      },
    ],
  },
  {
    name: '#14 a practitioner creates Observations (link Operation/FhirCreate; its sql step left out)',
    policies: [
      policy('as-practitioner-allowed-to-create-observations-for-their-patients', {
        engine: 'complex',
        link: [{ reference: 'Operation/FhirCreate' }],
        and: [
          {
            engine: 'matcho',
            matcho: {
              params: { 'resource/type': 'Observation' },
              user: { data: { practitioner_id: 'present?' } },
            },
          },
          { engine: 'matcho', matcho: { resource: { subject: { reference: '#^Patient/' } } } },
        ],
      }),
    ],
    rows: [
      {
        what: 'creates an observation of a patient',
        method: 'POST',
        uri: '/fhir/Observation',
        body: { resourceType: 'Observation', status: 'final', subject: { reference: 'Patient/pt-2' } },
        as: pr1,
        status: 200,
      },
      {
        what: 'an observation of a group',
        method: 'POST',
        uri: '/fhir/Observation',
        body: { resourceType: 'Observation', status: 'final', subject: { reference: 'Group/g-1' } },
        as: pr1,
        status: 403,
      },
      {
        what: 'an update is no FhirCreate',
        method: 'PUT',
        uri: '/fhir/Observation/o-1',
        body: { resourceType: 'Observation', status: 'final', subject: { reference: 'Patient/pt-2' } },
        as: pr1,
        status: 403,
      },
    ],
  },
  {
    name: '#15 a system updates practitioners (link Operation/FhirUpdate; its sql step left out)',
    policies: [
      policy('as-system-allowed-to-update-practitioners-except-mdm', {
        engine: 'complex',
        link: [{ reference: 'Operation/FhirUpdate' }],
        and: [{ engine: 'matcho', matcho: { params: { 'resource/type': 'Practitioner' } } }],
      }),
    ],
    rows: [
      {
        what: "the docs' request",
        method: 'PUT',
        uri: '/fhir/Practitioner/pr-1',
        body: { name: [{ given: ['John'] }] },
        as: { client: 'system1-client' },
        status: 200,
      },
      {
        what: 'a patient',
        method: 'PUT',
        uri: '/fhir/Patient/pt-1',
        body: {},
        as: { client: 'system1-client' },
        status: 403,
      },
      {
        what: 'a create is no FhirUpdate',
        method: 'POST',
        uri: '/fhir/Practitioner',
        body: { resourceType: 'Practitioner' },
        as: { client: 'system1-client' },
        status: 403,
      },
    ],
  },
  {
    name: '#17 members use their own compartment (link Operation/FhirCompartmentSearch; its sql step left out)',
    policies: [
      policy('as-member-allowed-to-use-thier-own-compartment', {
        engine: 'complex',
        link: [{ reference: 'Operation/FhirCompartmentSearch' }],
        and: [
          {
            engine: 'matcho',
            matcho: { jwt: { 'IDP-UserId': 'present?' }, params: { 'resource/type': 'Patient' } },
          },
        ],
      }),
    ],
    rows: [
      {
        what: 'searches a compartment',
        method: 'GET',
        uri: '/fhir/Patient/pt-1/Observation',
        as: { claims: { 'IDP-UserId': 'idp-1' } },
        status: 200,
      },
      {
        what: 'without the claim',
        method: 'GET',
        uri: '/fhir/Patient/pt-1/Observation',
        as: { claims: {} },
        status: 403,
      },
      {
        what: 'a read is no compartment search',
        method: 'GET',
        uri: '/fhir/Patient/pt-1',
        as: { claims: { 'IDP-UserId': 'idp-1' } },
        status: 403,
      },
    ],
  },
  {
    name: '#18 an application uses FHIR transactions (operation.id FhirTransaction, with #6 for the entries)',
    policies: [
      policy('as-client-id-allowed-to-use-fhir-transactions', {
        engine: 'matcho',
        link: [{ reference: 'Client/client-id' }],
        matcho: { operation: { id: 'FhirTransaction' } },
      }),
      policy('as-client-id-crud-patients-and-practitioners', {
        engine: 'matcho',
        link: [{ reference: 'Client/client-id' }],
        matcho: {
          params: { 'resource/type': { $enum: ['Patient', 'Practitioner'] } },
          'request-method': { $enum: ['get', 'post', 'patch', 'put'] },
        },
      }),
    ],
    rows: [
      {
        what: "the docs' transaction",
        method: 'POST',
        uri: '/fhir',
        body: exampleBundle('transaction', [
          ['POST', '/Patient', { resourceType: 'Patient', name: [{ given: ['John'] }] }],
        ]),
        as: { client: 'client-id' },
        status: 200,
      },
      {
        what: 'an entry the client may not write',
        method: 'POST',
        uri: '/fhir',
        body: exampleBundle('transaction', [
          ['PUT', 'Patient/pt-1', { resourceType: 'Patient', id: 'pt-1' }],
          ['POST', 'Observation', { resourceType: 'Observation', status: 'final' }],
        ]),
        as: { client: 'client-id' },
        status: 403,
        reason: /entry 1 .*POST \/fhir\/Observation/,
      },
      {
        what: 'the envelope alone is not a Patient write',
        method: 'GET',
        uri: '/fhir/Observation',
        as: { client: 'client-id' },
        status: 403,
      },
    ],
  },
  {
    name: 'tutorial: restrict operations on a resource type (operation.id $enum [Read, FhirRead])',
    policies: [
      policy('patient-read-only', {
        engine: 'matcho',
        matcho: {
          operation: { id: { $enum: ['Read', 'FhirRead'] } },
          params: { 'resource/type': 'Patient' },
        },
      }),
    ],
    rows: [
      { what: 'Read on the Aidbox route', method: 'GET', uri: '/Patient/pt-1', as: undefined, status: 200 },
      { what: 'FhirRead', method: 'GET', uri: '/fhir/Patient/pt-1', as: undefined, status: 200 },
      {
        what: 'Create',
        method: 'POST',
        uri: '/Patient',
        body: { resourceType: 'Patient', id: 'pt-2' },
        as: undefined,
        status: 401,
      },
      { what: 'Search', method: 'GET', uri: '/Patient', as: undefined, status: 401 },
      {
        what: 'Read of an observation',
        method: 'GET',
        uri: '/fhir/Observation/o-1',
        as: undefined,
        status: 401,
      },
    ],
  },
];
