import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HeaderFields, headerFields, readHead } from './inbound.js';
import { TrustedProxies } from './trusted-proxies.js';

// Real requests through Node's HTTP parser: what `headerFields` reads is what Node made of them.
let server: Server;
let seen: (req: IncomingMessage) => void = () => {};
let lastRequest: IncomingMessage | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    lastRequest = req;
    seen(req);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends one request with these raw header lines; resolves with its fields and `req.headers`. */
function fieldsOf(
  lines: string[],
  close = true,
): Promise<{ fields: HeaderFields; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    seen = (req) => resolve({ fields: headerFields(req), headers: req.headers });
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', reject);
    socket.end(
      `GET / HTTP/1.1\r\nHost: gw\r\n${lines.map((l) => `${l}\r\n`).join('')}${close ? 'Connection: close\r\n' : ''}\r\n`,
    );
  });
}

describe('headerFields', () => {
  it("is Node's own req.headers when no name repeats", async () => {
    const { fields, headers } = await fieldsOf(['Authorization: Bearer t', 'X-Original-URI: /fhir/Patient']);
    expect(fields).toBe(headers);
    expect(fields).toMatchObject({ authorization: 'Bearer t', 'x-original-uri': '/fhir/Patient' });
  });

  it('keeps every value of a repeated name, whatever Node joined or dropped', async () => {
    const { fields, headers } = await fieldsOf([
      'Authorization: Bearer a',
      'authorization: Bearer b',
      'X-Original-URI: /fhir/Patient/pt-1',
      'x-original-uri: /admin',
      'Cookie: a=1',
      'Cookie: b=2',
      'Accept: x',
    ]);
    // Node keeps the first Authorization and joins the URIs: neither is what was sent.
    expect(headers.authorization).toBe('Bearer a');
    expect(fields).toMatchObject({
      host: 'gw',
      authorization: ['Bearer a', 'Bearer b'],
      'x-original-uri': ['/fhir/Patient/pt-1', '/admin'],
      cookie: ['a=1', 'b=2'],
      accept: 'x',
    });
  });

  it('reads a single Set-Cookie as one value, and a __proto__ header as a field', async () => {
    const { fields } = await fieldsOf(['Set-Cookie: s=1', '__proto__: x']);
    expect(fields['set-cookie']).toBe('s=1');
    expect(Object.hasOwn(fields, '__proto__')).toBe(true);
  });
});

describe('readHead', () => {
  it("gives the check headers of its own, never Node's req.headers (the check's are changed later)", async () => {
    const { headers } = await fieldsOf(['Authorization: Bearer t', 'X-SSL-Client-Cert: pem'], false);
    const head = readHead(
      lastRequest as IncomingMessage,
      '/fhir/Patient',
      TrustedProxies.parse('127.0.0.1/32'),
    );
    expect('headers' in head && head.headers).toEqual(headers);
    expect('headers' in head && head.headers).not.toBe(headers);
  });
});
