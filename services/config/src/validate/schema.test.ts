import { describe, expect, it } from 'vitest';
import { join, pointerToPath, schemaIssues } from './schema.js';

describe('pointerToPath', () => {
  it.each([
    ['', ''],
    ['/jwt/keys/1/pub', 'jwt.keys[1].pub'],
    ['/matcho/params/resource~1type', 'matcho.params.`resource/type`'],
    ['/matcho/request-method', 'matcho.request-method'],
    ['/a~0b', '`a~b`'],
  ])('%s → %s', (pointer, path) => {
    expect(pointerToPath(pointer)).toBe(path);
  });

  it('joins paths without stray dots', () => {
    expect(join('Role', '', 'name')).toBe('Role.name');
    expect(join('TokenIntrospector', 'jwt.keys', '[0]')).toBe('TokenIntrospector.jwt.keys[0]');
  });
});

describe('schemaIssues', () => {
  it('folds a union of constants into one sentence', () => {
    expect(schemaIssues('TokenIntrospector', { resourceType: 'TokenIntrospector', type: 'saml' })).toEqual([
      { code: 'value', diagnostics: 'must be one of: jwt, opaque', expression: 'TokenIntrospector.type' },
    ]);
  });

  it('folds a union of shapes into one sentence', () => {
    const issues = schemaIssues('TokenIntrospector', {
      resourceType: 'TokenIntrospector',
      type: 'jwt',
      jwt: { iss: 'x', secret: 's', aud: 5 },
    });
    expect(issues).toEqual([
      { code: 'value', diagnostics: 'must be string or array', expression: 'TokenIntrospector.jwt.aud' },
    ]);
  });

  it('names missing and unknown fields by their own path', () => {
    expect(schemaIssues('Role', { resourceType: 'Role', user: { id: 'u', extra: 1 } })).toEqual([
      { code: 'required', diagnostics: 'is required', expression: 'Role.name' },
      { code: 'structure', diagnostics: 'is not a known field here', expression: 'Role.user.extra' },
    ]);
  });
});
