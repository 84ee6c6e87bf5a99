import { describe, expect, it } from 'vitest';
import { warningTexts } from './warnings.js';

describe('warningTexts', () => {
  it.each<[string | null, string[]]>([
    [null, []],
    ['', []],
    ['299 authz "jwt.secret is 11 bytes, short"', ['jwt.secret is 11 bytes, short']],
    ['299 authz "one, with a comma", 299 authz "two"', ['one, with a comma', 'two']],
  ])('%s', (header, texts) => {
    expect(warningTexts(header)).toEqual(texts);
  });
});
