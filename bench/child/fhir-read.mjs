// The upstream of the response-check scenarios: a bare node:http FHIR server answering
// GET /fhir/Observation/<id> with a fixed R4 Observation of 4 KiB (application/fhir+json), of
// Patient/pt-1 for every id except `of-pt-2`. argv: <port>
import { createServer } from 'node:http';
import { serve } from './serve.mjs';

const SIZE = 4096;

function observation(id, patient) {
  const resource = {
    resourceType: 'Observation',
    id,
    meta: { versionId: '1', lastUpdated: '2026-11-02T10:15:00Z' },
    status: 'final',
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' },
        ],
      },
    ],
    code: {
      coding: [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood' }],
    },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: '2026-11-02T09:30:00Z',
    valueQuantity: { value: 13.2, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' },
    note: [{ text: '' }],
  };
  // Padded with a note to exactly SIZE bytes, the size the scenario names.
  const bare = Buffer.byteLength(JSON.stringify(resource));
  resource.note[0].text = 'n'.repeat(SIZE - bare);
  return Buffer.from(JSON.stringify(resource));
}

const own = observation('o-1', 'pt-1');
const other = observation('of-pt-2', 'pt-2');
const port = Number(process.argv[2]);
const server = createServer((req, res) => {
  const body = req.url === '/fhir/Observation/of-pt-2' ? other : own;
  res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-length': String(body.length) });
  res.end(body);
});
serve(server, port);
