import { createServer, type Server } from 'node:http';
import { freePort } from './ports.js';

/** One request the upstream received. */
export interface UpstreamRecord {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A recording FHIR R4 server serving fixed, real-looking resources (SMART and compartment tests). */
export interface FhirUpstream {
  readonly url: string;
  readonly seen: UpstreamRecord[];
  close(): Promise<void>;
}

const LAB = { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' };
const VITALS = { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' };

/** `Observation/<id>` for `patient`, in `category`; `marker` lands in its text so tests can look for it. */
export function r4Observation(id: string, patient: string, category = LAB, marker = `note-${id}`) {
  return {
    resourceType: 'Observation',
    id,
    meta: { versionId: '1', lastUpdated: '2026-11-02T10:15:00Z' },
    status: 'final',
    category: [{ coding: [category], text: category.code }],
    code: {
      coding: [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood' }],
    },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: '2026-11-02T09:30:00Z',
    valueQuantity: { value: 13.2, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' },
    note: [{ text: marker }],
  };
}

function r4Patient(id: string, family: string) {
  return {
    resourceType: 'Patient',
    id,
    meta: { versionId: '3', lastUpdated: '2026-10-01T08:00:00Z' },
    identifier: [{ system: 'http://hospital.example.org/mrn', value: `MRN-${id}` }],
    name: [{ use: 'official', family, given: ['Amy', 'V.'] }],
    gender: 'female',
    birthDate: '1987-02-20',
  };
}

/** The resources served by id, keyed `Type/id`. */
export const UPSTREAM_RESOURCES: Record<string, unknown> = {
  'Patient/pt1': r4Patient('pt1', 'Shaw'),
  'Patient/pt2': { ...r4Patient('pt2', 'Baxter'), note: 'SECRET-OF-PT2' },
  'Observation/o-of-pt1': r4Observation('o-of-pt1', 'pt1'),
  'Observation/o-of-pt2': r4Observation('o-of-pt2', 'pt2', LAB, 'SECRET-OF-PT2'),
  'Observation/o-vitals-pt1': r4Observation('o-vitals-pt1', 'pt1', VITALS),
  'Observation/o-big-pt1': r4Observation('o-big-pt1', 'pt1', LAB, 'x'.repeat(8000)),
  'Appointment/a1': {
    resourceType: 'Appointment',
    id: 'a1',
    status: 'booked',
    participant: [{ actor: { reference: 'Patient/pt1' }, status: 'accepted' }],
  },
};

/**
 * Starts the recording upstream: `GET /fhir/<Type>/<id>` serves {@link UPSTREAM_RESOURCES}
 * (`application/fhir+json`, or XML when `_format=xml`), other GETs and POST `_search` a searchset Bundle, writes
 * echo the body with 201/200.
 */
export async function startFhirUpstream(): Promise<FhirUpstream> {
  const seen: UpstreamRecord[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const url = req.url ?? '/';
      seen.push({ method: req.method ?? 'GET', url, headers: req.headers, body });
      const [path, query = ''] = url.split('?') as [string, string?];
      const key = path.replace(/^\/fhir\//, '');
      const json = (status: number, value: unknown) =>
        res
          .writeHead(status, { 'content-type': 'application/fhir+json; charset=utf-8' })
          .end(JSON.stringify(value));
      // A search by POST (its parameters in a form body) answers like a GET search.
      const search = req.method === 'POST' && path.endsWith('/_search');
      if (search) return json(200, { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] });
      if (req.method !== 'GET') return json(req.method === 'POST' ? 201 : 200, body ? JSON.parse(body) : {});
      const resource = UPSTREAM_RESOURCES[key];
      if (resource && query.includes('_format=xml'))
        return res.writeHead(200, { 'content-type': 'application/fhir+xml' }).end('<Observation/>');
      if (resource) return json(200, resource);
      if (/^[A-Z][A-Za-z]+\/[^/]+$/.test(key))
        return json(404, {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'not-found' }],
        });
      return json(200, { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] });
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
