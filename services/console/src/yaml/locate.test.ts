import { describe, expect, it } from 'vitest';
import { locateInYaml, parseExpression } from './locate.js';

describe('parseExpression', () => {
  it.each([
    ['AccessPolicy.matcho.uri', 'AccessPolicy', ['matcho', 'uri']],
    ['AccessPolicy.matcho.uri.$bogus', 'AccessPolicy', ['matcho', 'uri', '$bogus']],
    ['TokenIntrospector.jwt.keys[0].pub', 'TokenIntrospector', ['jwt', 'keys', 0, 'pub']],
    ['AccessPolicy.and[1].matcho', 'AccessPolicy', ['and', 1, 'matcho']],
    ['AccessPolicy.matcho.`resource/type`', 'AccessPolicy', ['matcho', 'resource/type']],
    ['policy', undefined, ['policy']],
    ['User.password', 'AccessPolicy', ['User', 'password']],
  ])('%s → segments', (expression, root, segments) => {
    expect(parseExpression(expression, root)).toEqual(segments);
  });
});

const POLICY = `# a policy
resourceType: AccessPolicy
id: p1
engine: matcho
matcho:
  request-method: get
  uri: 42
  params:
    resource/type: Patient
    a.b: 1
and:
  - engine: allow
  - engine: matcho
    matcho: { uri: "#^/x" }
`;

describe('locateInYaml', () => {
  it.each([
    ['a top-level key', ['engine'], 4, 'engine', true],
    ['a nested key', ['matcho', 'uri'], 7, 'uri', true],
    ['a key holding a slash', ['matcho', 'params', 'resource/type'], 9, 'resource/type', true],
    ['a key holding a dot, split by the expression', ['matcho', 'params', 'a', 'b'], 10, 'a.b', true],
    ['a list item', ['and', 1], 13, 'engine: matcho\n    matcho: { uri: "#^/x" }', true],
    ['a key inside a flow map in a list', ['and', 1, 'matcho', 'uri'], 14, 'uri', true],
    ['a missing field: its parent', ['matcho', 'headers', 'x'], 5, 'matcho', false],
    [
      'a missing top-level field: the first line of content',
      ['link'],
      2,
      'resourceType: AccessPolicy',
      false,
    ],
  ])('marks %s', (_name, path, line, marked, exact) => {
    const location = locateInYaml(POLICY, path);
    expect(location).toMatchObject({ line, exact });
    expect(POLICY.slice(location?.from, location?.to).trimEnd()).toBe(marked);
  });

  it('finds paths in JSON text too', () => {
    const json = '{\n  "engine": "matcho",\n  "matcho": {\n    "uri": 1\n  }\n}';
    expect(locateInYaml(json, ['matcho', 'uri'])).toMatchObject({ line: 4, exact: true });
  });
});
