import { gzipSync } from 'node:zlib';
import type { RawRequest } from './integrity-cluster.js';

// The generator of the differential tests (DESIGN §10): seeded hostile requests — odd targets,
// encodings, repeated and oversized parameters, header spellings, bodies of every framing and
// media type. differential-compare.ts holds each one the upstream received against its check.

/** A header every generated request carries, naming it: upstream and check tap key on it. */
export const DIFF_ID_HEADER = 'X-Diff-Id';

export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Each pool has well-formed but odd entries (first) and hostile ones (second), picked 85:15.
const SEGMENTS: [string[], string[]] = [
  [
    'fhir',
    'Patient',
    'pt-1',
    '%70t-1',
    '%C3%A9',
    '_history',
    '1',
    '$everything',
    '..a',
    'A-Z.09',
    '%20',
    'x%7Cy',
    '%E2%82%AC',
    '~user',
    "!$&'()*+,=:@",
    '%2E%2Ex',
    '%3F',
    '%23',
  ],
  ['..', '.', '%2e%2e', '%2E', '.%2e', 'a%2Fb', 'a%5cb', 'a;b', '', '%00', '%0a', '%zz', '%C3', 'a%252e'],
];
const PARAMS: [string[], string[]] = [
  [
    'a=1',
    'a=2',
    'name=smith',
    'name=sm%69th',
    '_format=xml',
    '_format=json',
    'q=a+b',
    'q=a%2Bb',
    'e=%C3%A9',
    'flag',
    '=v',
    'k=',
    '&',
    'toString=1',
    'constructor=x',
    'i=http://x.org|1',
    'p=a\\b',
    '_revinclude=Observation:subject',
    'x=%26y%3Dz',
  ],
  [
    'resource/id=pt-1',
    'resource%2Fid=pt-2',
    'resource/type=Patient',
    'x=%00',
    'x=%0D%0A',
    'bad=%E0%A4%A',
    '__proto__=x',
    'x=%zz',
    'x=1;_revinclude=Observation:subject',
    '_revinclude[]=Observation:subject',
  ],
];
const CONTENT_TYPES = [
  'application/json',
  'application/fhir+json',
  'application/fhir+json; charset=utf-8',
  'text/plain',
  'application/xml',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/merge-patch+json',
];
const BODIES = [
  '{"resourceType":"Observation","status":"final"}',
  '{"status":"final","status":"preliminary"}',
  '{"a":{"b":[1,2,{"c":"\\u0000"}]},"d":null,"e":""}',
  '{"a":1',
  '[1,2,3]',
  '"just a string"',
  '{"st\\u0061tus":"x","status":"y"}',
  '{"nested":'.repeat(20) + '1' + '}'.repeat(20),
  '{"nested":'.repeat(70) + '1' + '}'.repeat(70),
  'not json at all',
];

const FORM_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=UTF-8',
  'Application/X-WWW-Form-Urlencoded',
  'application/x-www-form-urlencoded; charset=ISO-8859-1',
  'multipart/form-data; boundary=b',
];
// Raw characters a form body may not hold unencoded (the query's rules: DESIGN §10).
const FORM_HOSTILE = ['x=a b', 'x=a\nb', 'x=\u00e9', 'x=\r\n'];

export interface Generated {
  request: RawRequest;
  id: string;
}

export function generate(random: () => number, seed: number, index: number): Generated {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const mostly = (pools: [string[], string[]]): string => pick(random() < 0.85 ? pools[0] : pools[1]);
  const id = `diff-${seed}-${index}`;
  const segments = Array.from({ length: 1 + Math.floor(random() * 5) }, () => mostly(SEGMENTS));
  let path = `/${segments.join('/')}`;
  if (random() < 0.02) path = `http://upstream.example${path}`;
  if (random() < 0.6) {
    const count = random() < 0.03 ? 250 + Math.floor(random() * 12) : Math.floor(random() * 6);
    path += `?${Array.from({ length: count }, () => mostly(PARAMS)).join('&')}`;
  }
  if (random() < 0.02) path += '#frag';
  const headers: Array<[string, string]> = [
    ['X-Request-Id', id],
    [DIFF_ID_HEADER, id],
  ];
  const extra: Array<[string, string]> = [
    ['X_Authz_User', 'admin'],
    ['x-authz-policy', 'forged'],
    ['X-Authz_Subject', 'root'],
    ['X-HTTP-Method-Override', 'DELETE'],
    ['x_http_method', 'PUT'],
    ['X-Original-URL', '/admin'],
    ['X_Rewrite_URL', '/admin'],
    ['X-Forwarded-For', '203.0.113.9'],
    ['X-Forwarded-Proto', 'https'],
    ['Forwarded', 'for=203.0.113.9'],
    ['X-Real-IP', '203.0.113.9'],
    ['Authorization', 'Bearer not-a-token'],
    ['Authorization', 'Bearer another'],
    ['X-Custom', 'v'],
  ];
  for (const header of extra) if (random() < 0.04) headers.push(header);
  const form = random() < 0.3;
  const method = form && random() < 0.75 ? 'POST' : pick(['GET', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
  const request: RawRequest = { method, path, headers };
  if (form) {
    // A form body, mostly a POST search: fields from the query's pools, a few raw hostile ones.
    if (method === 'POST' && random() < 0.5) request.path = path.replace(/(\?|$)/, '/_search$1');
    const count = random() < 0.03 ? 250 + Math.floor(random() * 12) : Math.floor(random() * 6);
    const fields = Array.from({ length: count }, () =>
      random() < 0.03 ? pick(FORM_HOSTILE) : mostly(PARAMS),
    );
    let body = Buffer.from(fields.join('&'));
    if (random() < 0.05) {
      body = gzipSync(body);
      headers.push(['Content-Encoding', 'gzip']);
    }
    headers.push(['Content-Type', random() < 0.8 ? (FORM_TYPES[0] as string) : pick(FORM_TYPES)]);
    request.body = body;
    request.chunked = random() < 0.4;
  } else if (method !== 'GET' && random() < 0.8) {
    let body = Buffer.from(pick(BODIES));
    if (random() < 0.05) body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]);
    if (random() < 0.04) body = Buffer.concat([body, Buffer.alloc(70_000, 0x20)]);
    if (random() < 0.06) {
      body = gzipSync(body);
      headers.push(['Content-Encoding', 'gzip']);
    }
    if (random() < 0.95) headers.push(['Content-Type', pick(CONTENT_TYPES)]);
    request.body = body;
    request.chunked = random() < 0.4;
  }
  return { request, id };
}
