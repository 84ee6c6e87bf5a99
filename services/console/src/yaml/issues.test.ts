import { describe, expect, it } from 'vitest';
import { placeIssues } from './issues.js';

const TEXT = 'resourceType: AccessPolicy\nengine: matcho\nmatcho:\n  uri: 42\n';

describe('placeIssues', () => {
  it('places a 422 issue at the field its expression names', () => {
    const [placed] = placeIssues(
      TEXT,
      [
        {
          severity: 'error',
          code: 'invalid',
          diagnostics: 'must be a string',
          expression: ['AccessPolicy.matcho.uri'],
        },
      ],
      'AccessPolicy',
    );
    expect(placed?.expression).toBe('AccessPolicy.matcho.uri');
    expect(placed?.location).toMatchObject({ line: 4, exact: true });
    expect(TEXT.slice(placed?.location?.from, placed?.location?.to)).toBe('uri');
  });

  it('places a 400 parse error at its line and column', () => {
    const [placed] = placeIssues(
      TEXT,
      [{ severity: 'error', code: 'structure', diagnostics: 'YAML error at line 2, column 9: bad thing' }],
      'AccessPolicy',
    );
    expect(placed?.location).toMatchObject({ line: 2, exact: true });
    expect(TEXT.slice(placed?.location?.from, placed?.location?.to)).toBe('matcho');
  });

  it('leaves an issue with neither expression nor position unplaced', () => {
    const [placed] = placeIssues(
      TEXT,
      [{ severity: 'error', code: 'conflict', diagnostics: 'revision mismatch' }],
      'AccessPolicy',
    );
    expect(placed?.location).toBeUndefined();
  });
});
