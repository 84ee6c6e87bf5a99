import { describe, expect, it } from 'vitest';
import { bodyMediaType, readRequestBody } from './body.js';
import { canonicalCheck, FORM_BODY, UNSENT_BODY } from './canonical.js';
import { parseFormBody } from './form.js';
import { canonicalHeaders, isReservedHeader } from './headers.js';
import { checkParsedJson, scanJson } from './json-scan.js';
import { parseQueryParams } from './query.js';
import { isRefusal, type RequestRefusal } from './refusal.js';
import { parseRequestTarget } from './target.js';

const refusalOf = (value: unknown) => (isRefusal(value) ? value : undefined);

describe('parseRequestTarget', () => {
  it.each([
    ['https://evil.example/fhir/Patient', 'target_form'],
    ['evil.example:443', 'target_form'],
    ['*', 'target_form'],
    ['//evil.example/x', 'target_form'],
    ['/fhir/Patient#x', 'target_fragment'],
    ['/fhir/Patient/pt-1/../pt-2', 'target_dot_segment'],
    ['/fhir/Patient/../../admin/users', 'target_dot_segment'],
    ['/fhir/./Patient', 'target_dot_segment'],
    ['/fhir/Patient/pt-1/%2e%2e/pt-2', 'target_dot_segment'],
    ['/fhir/Patient/pt-1/%2E%2e/pt-2', 'target_dot_segment'],
    ['/fhir/Patient/pt-1/.%2E/pt-2', 'target_dot_segment'],
    ['/fhir/Patient/pt-1/%252e%252e/pt-2', 'target_encoding'],
    ['/fhir/Patient%2Fpt-2', 'target_encoded_separator'],
    ['/fhir/Patient%2fpt-2', 'target_encoded_separator'],
    ['/fhir/Patient%5Cpt-2', 'target_encoded_separator'],
    ['/fhir\\Patient', 'target_character'],
    ['/fhir/Patient;jsessionid=1/pt-2', 'target_path_parameter'],
    ['/fhir//Patient', 'target_empty_segment'],
    ['/fhir/Pat\u0000ient', 'target_character'],
    ['/fhir/Pat%00ient', 'target_character'],
    ['/fhir/Pat%0aient', 'target_character'],
    ['/fhir/Pat ient', 'target_character'],
    ['/fhir/Pat\u00e9', 'target_character'],
    ['/fhir/Pat%zzient', 'target_encoding'],
    ['/fhir/Pat%4', 'target_encoding'],
    ['/fhir/Pat%C3%28', 'target_encoding'],
    ['/fhir/Patient?name=a%00', 'query_character'],
    ['/fhir/Patient?name=a%0D%0Ax', 'query_character'],
    ['/fhir/Patient?name=a\nb', 'query_character'],
    ['/fhir/Observation?code=x;_revinclude=Observation:subject', 'query_character'],
    ['/fhir/Patient?;', 'query_character'],
    ['/fhir/Observation?_revinclude[]=Observation:subject', 'query_character'],
    ['/fhir/Observation?_revinclude%5B0%5D=Observation:subject', 'query_character'],
    ['/fhir/Observation?a]=1', 'query_character'],
    ['/fhir/Patient?name=%E0%A4%A', 'query_encoding'],
    ['/fhir/Patient?_id=pt-2&resource/id=pt-1', 'query_route_parameter'],
    ['/fhir/Patient/%70t-2?resource%2Fid=pt-1', 'query_route_parameter'],
    ['/fhir/Patient?resource/type=Patient', 'query_route_parameter'],
    ['/fhir/Patient?access_token=eyJ', 'query_credential'],
    ['/fhir/Patient?_id=pt-1&access%5Ftoken=eyJ', 'query_credential'],
    [`/fhir/Patient?${'a&'.repeat(256)}_revinclude=Observation:subject`, 'query_too_many'],
    [`/${'a'.repeat(16384)}`, 'target_too_long'],
  ])('refuses %j (%s)', (uri, code) => {
    expect(refusalOf(parseRequestTarget(uri))?.refused).toBe(code);
  });

  it('answers 414 for too many parameters and a too-long target, 400 otherwise', () => {
    expect(refusalOf(parseRequestTarget(`/x?${'a=1&'.repeat(257)}`))?.status).toBe(414);
    expect(refusalOf(parseRequestTarget(`/${'a'.repeat(20_000)}`))?.status).toBe(414);
    expect(refusalOf(parseRequestTarget('/a/../b'))?.status).toBe(400);
  });

  it('decodes the path once and keeps the raw target for the upstream', () => {
    expect(parseRequestTarget('/fhir/Patient/%70t-2/_history/1?name=a+b&name=c&x=%7C')).toEqual({
      raw: '/fhir/Patient/%70t-2/_history/1?name=a+b&name=c&x=%7C',
      path: '/fhir/Patient/pt-2/_history/1',
      segments: ['fhir', 'Patient', 'pt-2', '_history', '1'],
      query: 'name=a+b&name=c&x=%7C',
      params: { name: ['a b', 'c'], x: '|' },
    });
  });

  it.each([
    '/',
    '/fhir/Patient/',
    '/fhir/Patient?identifier=http://x.org|123&_include=Patient:organization',
    '/fhir/Patient/pt-1/$everything',
    '/fhir/Patient?q=a\\b',
    `/x?${'a=1&'.repeat(256)}`,
    '/fhir/Patient/..x/a.b/...',
    '/fhir/Patient?name=O%3BBrien',
    '/fhir/Patient?name=%5Bx%5D&_text=[a]',
  ])('accepts %j', (uri) => {
    expect(isRefusal(parseRequestTarget(uri))).toBe(false);
  });
});

describe('canonicalHeaders', () => {
  it('drops reserved x-authz-* headers in any _/- spelling and case', () => {
    expect(
      canonicalHeaders({ X_Authz_User: 'admin', 'x-authz-policy': 'p', 'X-AUTHZ_SUBJECT': 's', accept: 'a' }),
    ).toEqual({ accept: 'a' });
  });

  it('returns the headers themselves when already canonical', () => {
    const headers = { authorization: 'Bearer t', accept: 'a' };
    expect(canonicalHeaders(headers)).toBe(headers);
  });

  it.each([
    [{ authorization: ['Bearer a', 'Bearer b'] }, 'header_ambiguous', 400],
    [{ Authorization: 'Bearer a', authorization: 'Bearer b' }, 'header_ambiguous', 400],
    [{ host: ['a', 'b'] }, 'header_ambiguous', 400],
    [{ Host: 'a', host: 'b' }, 'header_ambiguous', 400],
    [{ 'x-http-method-override': 'DELETE' }, 'method_override', 400],
    [{ 'X-HTTP-Method': 'DELETE' }, 'method_override', 400],
    [{ x_method_override: 'DELETE' }, 'method_override', 400],
    [{ 'X-Original-URL': '/admin' }, 'target_override', 400],
    [{ x_rewrite_url: '/admin' }, 'target_override', 400],
    [Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`h${i}`, 'v'])), 'header_too_many', 431],
  ])('refuses %j', (headers, code, status) => {
    const refusal = refusalOf(canonicalHeaders(headers as Record<string, string>)) as RequestRefusal;
    expect([refusal?.refused, refusal?.status]).toEqual([code, status]);
  });

  it('leaves out the names `drop` picks, keeping the rest as they are', () => {
    const headers = { connection: 'keep-alive', 'x-forwarded-for': '203.0.113.9', accept: 'a' };
    const dropped = canonicalHeaders(
      headers,
      (name) => name === 'connection' || name.startsWith('x-forwarded'),
    );
    expect(dropped).toEqual({ accept: 'a' });
    expect(headers).toEqual({ connection: 'keep-alive', 'x-forwarded-for': '203.0.113.9', accept: 'a' });
  });

  // A header the check leaves out (hop-by-hop, named in Connection) still reaches the upstream
  // through a forward-auth proxy: ambiguity is judged on everything sent.
  it.each([
    [{ authorization: 'Bearer a', Authorization: 'Bearer b' }, 'header_ambiguous'],
    [{ 'x-http-method-override': 'DELETE' }, 'method_override'],
    [{ X_HTTP_Method: 'DELETE' }, 'method_override'],
    [{ 'x-original-url': '/admin' }, 'target_override'],
  ])('refuses %j even when `drop` leaves those names out', (headers, code) => {
    const dropAll = () => true;
    expect((refusalOf(canonicalHeaders(headers, dropAll)) as RequestRefusal)?.refused).toBe(code);
  });

  it.each(['x-authz-user', 'x_authz_user', 'x-authz_user', 'x_authz-user'])('%s is reserved', (name) => {
    expect(isReservedHeader(name)).toBe(true);
  });

  it.each(['x-authz', 'x-authzuser', 'x--authz-user', 'y-authz-user', 'x-auth-z-user', 'xx-authz-user'])(
    '%s is not reserved',
    (name) => {
      expect(isReservedHeader(name)).toBe(false);
    },
  );
});

describe('bodyMediaType', () => {
  it('is the one Content-Type, and refuses two', () => {
    expect(bodyMediaType({ 'content-type': 'application/json' })).toBe('application/json');
    expect(bodyMediaType({ 'content-type': ['application/json'] })).toBe('application/json');
    expect(bodyMediaType({})).toBeUndefined();
    expect(refusalOf(bodyMediaType({ 'content-type': ['application/json', 'text/plain'] }))).toMatchObject({
      refused: 'header_ambiguous',
      status: 400,
    });
  });
});

describe('readRequestBody', () => {
  const json = (text: string) => Buffer.from(text);
  it.each([
    ['{"status":"final","status":"preliminary"}', 'appears twice'],
    ['{"a":{"st\\u0061tus":1,"status":2}}', 'appears twice'],
    [`${'['.repeat(65)}${']'.repeat(65)}`, 'deeper than 64'],
    ['{"a":', 'malformed'],
    ['{"a":1,"a":', 'appears twice'],
    ['{"__proto__":{},"__proto__":{}}', 'appears twice'],
    ['[{"k\\":":1,"x":"\\":","k\\":":2}]', 'appears twice'],
    ['{"a":[{"b":1}],"c":{"d":[[{"e":1,"f":2,"e\u0000":3,"e":4}]]}}', 'appears twice'],
    ['\ufeff{"a":1}', 'byte order mark'],
  ])('refuses %j with 400', (text, why) => {
    const refusal = refusalOf(readRequestBody(json(text), 'application/fhir+json', undefined, 'POST'));
    expect(refusal?.status).toBe(400);
    expect(refusal?.reason).toContain(why);
  });

  it.each([
    ['text/plain', undefined, "the body's media type text/plain is not JSON"],
    ['application/json', 'gzip', 'the body is gzip-encoded'],
    ['application/json; charset=latin1', undefined, "the body's charset latin1 is not UTF-8"],
    [undefined, undefined, 'the body has no Content-Type'],
  ])('marks a %s body (%s) unavailable', (type, encoding, reason) => {
    expect(readRequestBody(json('{"a":1}'), type, encoding, 'POST')).toEqual({ unavailable: reason });
  });

  it.each(['application/json', 'application/fhir+json; charset=UTF-8', 'application/merge-patch+json'])(
    'parses %s',
    (type) => {
      expect(readRequestBody(json('{"a":[1,{"b":"x"}],"c":"\\"{"}'), type, 'identity', 'POST')).toEqual({
        json: { a: [1, { b: 'x' }], c: '"{' },
      });
    },
  );
});

describe('canonicalCheck', () => {
  it('refuses a body nested deeper than the JSON limit', () => {
    let body: unknown = 1;
    for (let i = 0; i < 65; i++) body = [body];
    expect(refusalOf(canonicalCheck({ uri: '/', body }))?.refused).toBe('body_json');
  });
  it('carries body_unavailable', () => {
    const checked = canonicalCheck({ uri: '/a', body_unavailable: 'the body is gzip-encoded' });
    expect(isRefusal(checked) ? undefined : checked.bodyUnavailable).toBe('the body is gzip-encoded');
  });
  it.each([
    ['POST', undefined, UNSENT_BODY],
    ['put', undefined, UNSENT_BODY],
    ['PATCH', undefined, UNSENT_BODY],
    ['POST', null, undefined],
    ['POST', { a: 1 }, undefined],
    ['GET', undefined, undefined],
    ['DELETE', undefined, undefined],
  ])(
    'a %s with body %j: body unavailable is %s (a write that says nothing of its body fails closed)',
    (method, body, expected) => {
      const checked = canonicalCheck({ method, uri: '/a', ...(body === undefined ? {} : { body }) });
      expect(isRefusal(checked) ? 'refused' : checked.bodyUnavailable).toBe(expected);
    },
  );
});

describe("parseFormBody (the query's parser, reasons naming the body)", () => {
  it('reads fields as the query reads parameters', () => {
    const text = '_revinclude=Observation%3Asubject&name=a+b&name=c&_count=10';
    expect(parseFormBody(text)).toEqual(parseQueryParams(text));
    expect(parseFormBody(text)).toEqual({
      _revinclude: 'Observation:subject',
      name: ['a b', 'c'],
      _count: '10',
    });
  });

  it.each([
    ['name=a%00', 400, 'the form body part "a%00" encodes NUL, CR, LF'],
    ['name=a%0D%0Ax', 400, 'the form body part "a%0D%0Ax" encodes NUL, CR, LF'],
    ['name=a\r\nb', 400, 'the form body contains control character 0x0d'],
    ['name=a\nb', 400, 'the form body contains control character 0x0a'],
    ['name=a\u0000', 400, 'the form body contains control character 0x00'],
    ['name=a b', 400, 'the form body contains control character 0x20'],
    ['name=\u00e9', 400, 'the form body contains a raw non-ASCII character (percent-encode it)'],
    ['name=%zz', 400, 'the form body part "%zz" has malformed percent-encoding'],
    ['name=%C3%28', 400, 'the form body part "%C3%28" does not percent-decode to UTF-8'],
    [
      'resource/id=pt-1',
      400,
      'the form body parameter "resource/id" is a route parameter; it comes only from the path',
    ],
    [
      'resource%2Ftype=Patient',
      400,
      'the form body parameter "resource/type" is a route parameter; it comes only from the path',
    ],
    ['__proto__=x', 400, 'the form body parameter name "__proto__" is refused'],
    [
      'name=smith;_revinclude=Observation:subject',
      400,
      'the form body contains a raw ";", which some servers read as a parameter separator; percent-encode it as %3B',
    ],
    [
      `${'a=1&'.repeat(256)}_revinclude=Observation:subject`,
      413,
      'the form body has more than 256 parameters',
    ],
    [
      `a=${'x'.repeat(65536)}`,
      413,
      'the form body is longer than 65536 characters; its parameters are never truncated',
    ],
  ])('refuses %j with %i', (text, status, reason) => {
    expect(refusalOf(parseFormBody(text))).toEqual({ refused: 'body_form', status, reason });
  });

  it("keeps the query's codes and words for the query", () => {
    expect(refusalOf(parseQueryParams('resource/id=x'))).toEqual({
      refused: 'query_route_parameter',
      status: 400,
      reason: 'the query parameter "resource/id" is a route parameter; it comes only from the path',
    });
    expect(refusalOf(parseQueryParams('a=1&'.repeat(257)))?.status).toBe(414);
  });
});

describe('readRequestBody of a form', () => {
  const FORM = 'application/x-www-form-urlencoded';
  const bytes = (text: string) => Buffer.from(text, 'utf8');

  it.each([FORM, `${FORM}; charset=UTF-8`, 'Application/X-WWW-Form-Urlencoded;charset=utf8'])(
    'keeps the text of a POST %s body',
    (type) => {
      expect(readRequestBody(bytes('_revinclude=Observation%3Asubject'), type, undefined, 'POST')).toEqual({
        form: '_revinclude=Observation%3Asubject',
      });
    },
  );

  it.each([
    [`${FORM}; charset=latin1`, undefined, 'POST', "the body's charset latin1 is not UTF-8"],
    [FORM, 'gzip', 'POST', 'the body is gzip-encoded'],
    [FORM, undefined, 'PUT', 'a form body on a PUT: servers disagree on whether its fields are parameters'],
    [
      'multipart/form-data; boundary=x',
      undefined,
      'POST',
      "the body's media type multipart/form-data is not JSON",
    ],
  ])('marks a %s body (%s, %s) unavailable', (type, encoding, method, reason) => {
    expect(readRequestBody(bytes('a=1'), type, encoding, method)).toEqual({ unavailable: reason });
  });

  it('marks a form that escapes non-ASCII bytes and names no charset unavailable (servlets read ISO-8859-1)', () => {
    const muller = bytes('name=M%C3%BCller');
    expect(readRequestBody(muller, FORM, undefined, 'POST')).toEqual({
      unavailable: expect.stringContaining('servlet containers decode them as ISO-8859-1'),
    });
    expect(readRequestBody(muller, `${FORM}; charset=utf-8`, undefined, 'POST')).toEqual({
      form: 'name=M%C3%BCller',
    });
    expect(readRequestBody(bytes('name=a%20b'), FORM, undefined, 'POST')).toEqual({ form: 'name=a%20b' });
    const check = canonicalCheck({
      method: 'POST',
      uri: '/fhir/Patient/_search',
      headers: { 'content-type': FORM },
      body_form: 'name=M%C3%BCller',
    });
    expect(refusalOf(check)?.refused).toBe('body_form');
  });

  it("refuses a form body the query's rules refuse, and one that is not UTF-8", () => {
    expect(refusalOf(readRequestBody(bytes('a=%zz'), FORM, undefined, 'POST'))?.refused).toBe('body_form');
    expect(refusalOf(readRequestBody(Buffer.from([0x61, 0x3d, 0xff]), FORM, undefined, 'POST'))?.reason).toBe(
      'the form body is not valid UTF-8',
    );
  });
});

describe('canonicalCheck of search parameters in a body', () => {
  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
  const canonical = (check: Parameters<typeof canonicalCheck>[0]) => {
    const checked = canonicalCheck(check);
    if (isRefusal(checked)) throw new Error(checked.reason);
    return checked;
  };

  it('parses body_form into formParams; the body itself is not JSON to policies', () => {
    const checked = canonical({
      method: 'POST',
      uri: '/fhir/Patient/_search?_count=1',
      headers: FORM,
      body_form: 'patient=p1&patient=p2',
    });
    expect(checked.formParams).toEqual({ patient: ['p1', 'p2'] });
    expect(checked.bodyUnavailable).toBe(FORM_BODY);
    expect(checked.paramsUnseen).toBeUndefined();
  });

  it.each([
    [
      { method: 'POST', uri: '/x', body: {}, body_form: 'a=1' },
      'the check request carries both body and body_form; a request has one body',
    ],
    [
      { method: 'PUT', uri: '/x', body_form: 'a=1' },
      "body_form is the form body of a POST; servers read no other method's form",
    ],
    [
      { method: 'POST', uri: '/x', body_form: 'a=1', headers: { 'content-type': 'application/json' } },
      'body_form is sent with one Content-Type: application/x-www-form-urlencoded header, the upstream reads it as a form only then',
    ],
    [
      { method: 'POST', uri: '/x', body_form: 'a=1' },
      'body_form is sent with one Content-Type: application/x-www-form-urlencoded header, the upstream reads it as a form only then',
    ],
    [
      { method: 'POST', uri: '/x', headers: FORM, body_form: 'resource/type=Patient' },
      'the form body parameter "resource/type" is a route parameter; it comes only from the path',
    ],
  ])('refuses %j', (check, reason) => {
    expect(refusalOf(canonicalCheck(check))).toEqual({ refused: 'body_form', status: 400, reason });
  });

  it.each([
    [
      'POST',
      '/fhir/Patient/_search',
      {},
      { body_unavailable: 'forward-auth does not receive the request body' },
      'forward-auth does not receive the request body',
    ],
    ['POST', '/fhir/_search', {}, {}, UNSENT_BODY],
    ['POST', '/fhir/Patient/_search/', {}, {}, UNSENT_BODY],
    ['post', '/fhir/Patient/_SEARCH', {}, {}, UNSENT_BODY],
    [
      'POST',
      '/fhir/Patient/pt-1/Observation/_search',
      {},
      { body: { a: 1 } },
      'the body is not form-encoded',
    ],
    [
      'POST',
      '/Patient/_search',
      {},
      { body_unavailable: 'the body is gzip-encoded' },
      'the body is gzip-encoded',
    ],
    [
      'POST',
      '/fhir/Patient',
      FORM,
      { body_unavailable: "the body's charset latin1 is not UTF-8" },
      "the body's charset latin1 is not UTF-8",
    ],
    ['PUT', '/fhir/Patient/pt-1', FORM, { body_unavailable: 'a form body on a PUT' }, 'a form body on a PUT'],
    [
      'GET',
      '/fhir/Patient',
      { 'content-type': 'multipart/form-data; boundary=x' },
      { body_unavailable: 'forward-auth does not receive the request body' },
      'forward-auth does not receive the request body',
    ],
    // Ring reads a body as a form when its Content-Type only starts with the form's type.
    [
      'GET',
      '/fhir/Observation',
      { 'content-type': 'application/x-www-form-urlencodedx' },
      { body_unavailable: "the body's media type application/x-www-form-urlencodedx is not JSON" },
      "the body's media type application/x-www-form-urlencodedx is not JSON",
    ],
    [
      'GET',
      '/fhir/Observation',
      { 'content-type': 'application/x-www-form-urlencoded+json' },
      { body: { x: '&_revinclude=Observation:subject&' } },
      'the body is not form-encoded',
    ],
    [
      'POST',
      '/fhir/Observation',
      { 'content-type': 'multipart/form-data,boundary=b' },
      { body_unavailable: "the body's media type multipart/form-data,boundary=b is not JSON" },
      "the body's media type multipart/form-data,boundary=b is not JSON",
    ],
  ])('a %s %s whose body is not shown leaves params unseen', (method, uri, headers, body, why) => {
    const checked = canonical({ method, uri, headers, ...body });
    expect(checked.paramsUnseen).toBe(
      `the request's search parameters may be in its body, which policies cannot see (${why})`,
    );
  });

  it.each([
    ['GET', '/fhir/Patient/_search', {}, {}],
    ['POST', '/fhir/Patient/_search', {}, { body: null }],
    ['POST', '/fhir/Patient', {}, { body: { resourceType: 'Patient' } }],
    ['PUT', '/fhir/Patient/pt-1', {}, { body_unavailable: 'the body is gzip-encoded' }],
    ['POST', '/fhir/Patient/_search', FORM, { body_form: '' }],
  ])('a %s %s with %j sees every parameter', (method, uri, headers, body) => {
    expect(canonical({ method, uri, headers, ...body }).paramsUnseen).toBeUndefined();
  });
});

describe('checkParsedJson (scanJson by counting keys)', () => {
  // A seeded generator of JSON texts with escapes, key-like strings and repeated keys: the fast
  // check must refuse exactly what scanJson refuses, with scanJson's words.
  let seed = 12;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const names = ['a', 'b', '\\u0061', 'a\\"', '\\":', '\\\\', '__proto__', 'x:y', ''];
  const text = (depth: number): string => {
    const kind = depth > 5 ? next(3) : next(6);
    if (kind === 0) return String(next(1000));
    if (kind === 1) return `"${names[next(names.length)]}${next(2) ? '\\":' : ''}"`;
    if (kind === 2) return ['true', 'null', '-1.5e3', '""'][next(4)] as string;
    if (kind === 3) return `[${Array.from({ length: next(4) }, () => text(depth + 1)).join(' , ')}]`;
    const keys = Array.from({ length: next(5) }, () => `"${names[next(names.length)]}${next(3)}"`);
    return `{ ${keys.map((k) => `${k} : ${text(depth + 1)}`).join(',')} }`;
  };

  it('agrees with scanJson on 3000 generated documents, duplicates and all', () => {
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const t = text(0);
      const fast = checkParsedJson(t, JSON.parse(t), 4);
      expect(fast, t).toBe(scanJson(t, 4));
      if (fast !== undefined) refused++;
    }
    // The generator does produce both answers.
    expect(refused).toBeGreaterThan(100);
    expect(refused).toBeLessThan(2900);
  });

  it('counts keys written with escapes as the names JSON.parse makes of them', () => {
    expect(checkParsedJson('{"a":1,"\\u0061":2}', { a: 2 }, 64)).toContain('appears twice');
    expect(checkParsedJson('{"a":1,"\\u0062":2}', { a: 1, b: 2 }, 64)).toBeUndefined();
  });

  it("refuses nesting deeper than the bound with scanJson's words", () => {
    const deep = `${'['.repeat(5)}${']'.repeat(5)}`;
    expect(checkParsedJson(deep, JSON.parse(deep), 4)).toBe('it nests deeper than 4 levels');
  });
});
