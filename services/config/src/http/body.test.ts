import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { SEED_INTROSPECTOR_KEYS, SEED_POLICY_JSON_SCHEMA, SEED_POLICY_OPAQUE } from '@authz/test-support';
import { describe, expect, it } from 'vitest';
import { MAX_BODY_DEPTH, parseForm, parseJson, parseYaml, readBody, readParsedBody } from './body.js';
import { ApiError } from './errors.js';

function caught(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

function request(body: string | Buffer[], headers: Record<string, string> = {}): IncomingMessage {
  const stream = Readable.from(
    typeof body === 'string' ? [Buffer.from(body)] : body,
  ) as unknown as IncomingMessage;
  (stream as { headers: Record<string, string> }).headers = headers;
  return stream;
}

const ALIAS_BOMB = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
`;

describe('parseYaml', () => {
  it('parses the seed json-schema policy as written', () => {
    expect(parseYaml(SEED_POLICY_JSON_SCHEMA)).toMatchObject({
      resourceType: 'AccessPolicy',
      engine: 'json-schema',
      schema: { properties: { jwt: { properties: { iss: { constant: 'https://auth.example.com' } } } } },
    });
  });

  it.each([
    [
      'duplicate keys (the seed keys example)',
      SEED_INTROSPECTOR_KEYS,
      'YAML error at line 3, column 1: Map keys must be unique',
    ],
    [
      'the seed opaque policy whose // lines are not comments',
      SEED_POLICY_OPAQUE,
      'YAML error at line 3, column 3: Implicit keys need to be on a single line',
    ],
    [
      'an unclosed flow sequence',
      'a: 1\nb:\n  c: [1, 2\nd: 3\n',
      'YAML error at line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
    [
      'several documents',
      'a: 1\n---\nb: 2\n',
      'YAML error at line 2, column 1: Source contains multiple documents',
    ],
    [
      'tabs as indentation',
      'a:\n\tb: 1\n',
      'YAML error at line 2, column 1: Tabs are not allowed as indentation',
    ],
    ['an unknown tag', 'a: !custom x\n', 'YAML error at line 1, column 4: Unresolved tag: !custom'],
    ['an alias bomb', ALIAS_BOMB, 'YAML error: Excessive alias count indicates a resource exhaustion attack'],
  ])('refuses %s with a 400 naming the place', (_name, text, diagnostics) => {
    const err = caught(() => parseYaml(text));
    expect(err.code).toBe('ERR_BODY_UNPARSABLE');
    expect(err.status).toBe(400);
    expect(err.issues[0]?.diagnostics).toMatch(
      new RegExp(`^${diagnostics.replace(/[[\]().*+?^$|\\]/g, '\\$&')}`),
    );
  });

  it('keeps a __proto__ key as data instead of a prototype', () => {
    const value = parseYaml('__proto__:\n  polluted: true\n') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseJson', () => {
  it('names the line and column of a syntax error', () => {
    const err = caught(() => parseJson('{\n  "a": 1,\n  }'));
    expect(err.status).toBe(400);
    expect(err.issues[0]?.diagnostics).toMatch(/^JSON error at line 3, column 3: /);
  });
});

describe('parseForm', () => {
  it('reads fields and refuses a repeated one', () => {
    expect({ ...parseForm('token=abc%2B1&x=2') }).toEqual({ token: 'abc+1', x: '2' });
    expect(caught(() => parseForm('token=a&token=b')).issues[0]?.diagnostics).toBe(
      'form field "token" is repeated',
    );
  });
});

describe('readBody', () => {
  it('refuses a declared Content-Length over the limit before reading', async () => {
    const err = await readBody(request('x', { 'content-length': '2000' }), 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(413);
  });

  it('refuses a streamed body as soon as it crosses the limit', async () => {
    const chunks = Array.from({ length: 10 }, () => Buffer.alloc(600, 'a'));
    const err = await readBody(request(chunks), 1000).catch((e: unknown) => e);
    expect((err as ApiError).code).toBe('ERR_BODY_TOO_LARGE');
  });

  it('returns a body at the limit', async () => {
    expect((await readBody(request('a'.repeat(1000)), 1000)).length).toBe(1000);
  });
});

describe('readParsedBody', () => {
  it.each([
    ['text/yaml', 'a: 1\n', { a: 1 }],
    ['application/x-yaml', 'a: 1\n', { a: 1 }],
    ['application/yaml; charset=utf-8', 'a: 1\n', { a: 1 }],
    ['application/json', '{"a":1}', { a: 1 }],
    ['application/fhir+json', '{"a":1}', { a: 1 }],
  ])('reads %s', async (type, text, expected) => {
    const { value } = await readParsedBody(request(text, { 'content-type': type }), 1000, ['json', 'yaml']);
    expect(value).toEqual(expected);
  });

  it.each([
    ['an empty body', '   ', 'the request body is empty'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'the request body is not valid UTF-8'],
    ['a YAML binary', 'a: !!binary aGVsbG8=\n', '$.a: only JSON values are accepted'],
    ['an infinite number', 'a: .inf\n', '$.a: Infinity is not a JSON number'],
    [
      'deep nesting',
      `${'['.repeat(MAX_BODY_DEPTH + 1)}${']'.repeat(MAX_BODY_DEPTH + 1)}`,
      `the body is nested deeper than ${MAX_BODY_DEPTH} levels`,
    ],
  ])('refuses %s with a 400', async (_name, body, diagnostics) => {
    const chunks = typeof body === 'string' ? body : [body];
    const err = (await readParsedBody(request(chunks, { 'content-type': 'text/yaml' }), 1000, ['yaml']).catch(
      (e: unknown) => e,
    )) as ApiError;
    expect(err.status).toBe(400);
    expect(err.issues[0]?.diagnostics).toBe(diagnostics);
  });
});
