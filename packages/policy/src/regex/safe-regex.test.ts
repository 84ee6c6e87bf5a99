import { describe, expect, it } from 'vitest';
import { compileSafeRegex, MAX_REGEX_SUBJECT, RegexSubjectTooLongError } from './safe-regex.js';
import { scanRegex } from './scan.js';

describe('compileSafeRegex', () => {
  it('runs a catastrophic pattern against a long non-matching subject in bounded time', () => {
    // (a+)+$ takes exponential time on a backtracking engine: ~2^n steps for n a's and one '!'.
    const regex = compileSafeRegex('(a+)+$');
    const subject = `${'a'.repeat(MAX_REGEX_SUBJECT - 1)}!`;
    const started = performance.now();
    expect(regex.test(subject)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses to run on a 50 KB subject at all, in bounded time', () => {
    const regex = compileSafeRegex('(a+)+$');
    const subject = `${'a'.repeat(50 * 1024)}!`;
    const started = performance.now();
    expect(() => regex.test(subject)).toThrow(RegexSubjectTooLongError);
    expect(performance.now() - started).toBeLessThan(250);
  });

  it.each([
    ['(x+x+)+y', 'x'.repeat(10_000)],
    ['^(\\w+\\s?)*$', `${'word '.repeat(2000)}!`],
    ['(.*a){12}', 'a'.repeat(5000)],
    ['^(a|aa)+$', `${'a'.repeat(10_000)}b`],
  ])('keeps %s linear', (source, subject) => {
    const started = performance.now();
    compileSafeRegex(source).test(subject);
    // A backtracking engine takes minutes to years on these; bounds are loose for loaded CI machines.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it.each([
    ['(a)\\1', /linear time/],
    ['(?=a)b', /linear time/],
    ['(?<!a)b', /linear time/],
    ['a{1000}', /linear time/],
    ['(', /invalid regular expression/],
    ['(?s)a', /inline flags/],
  ])('refuses %s', (source, message) => {
    expect(() => compileSafeRegex(source)).toThrow(message);
  });

  it.each([
    ['^/fhir/Patient', '/fhir/Patient/1', true],
    ['^/fhir/Patient', '/x/fhir/Patient', false],
    ['/Encounter', '/fhir/Encounter/1', true],
    ['/Encounter.*', '/fhir/Encounter', true],
    ['^/a$', '/a', true],
    ['^/a$', '/ab', false],
    ['\\.json$', '/x.json', true],
    ['\\.json$', '/x.jsonx', false],
    ['^get$', 'get', true],
    ['\\d+', 'abc123', true],
    ['^[a-z]+/[0-9]+$', 'abc/12', true],
    ['(?i)^/patient', '/PaTiEnT/1', true],
    ['(?i)[a-c]x', 'Bx', true],
    ['(?i)[a-c]x', 'dx', false],
    ['(?i)(?:foo|bar)\\d', 'BAR1', true],
    ['(?i)(?<name>ab)', 'AB', true],
  ])('%s on %s → %s', (source, subject, expected) => {
    expect(compileSafeRegex(source).test(subject)).toBe(expected);
  });
});

describe('scanRegex prefix (what the candidate index files a uri regex under)', () => {
  it.each([
    ['^/fhir/Patient', '/fhir/Patient'],
    ['^/fhir/Patient/.*', '/fhir/Patient/'],
    ['^\\/fhir\\/Patient', '/fhir/Patient'],
    ['^/fhir/Patients?', '/fhir/Patient'],
    ['^/fhir/Patient+', '/fhir/Patient'],
    ['^/fhir/(Patient|Encounter)', '/fhir/'],
    ['^/a|^/b', ''],
    ['/fhir/Patient', ''],
    ['^/x\\d', '/x'],
    ['^/x{2}', '/'],
  ])('%s → %j', (source, prefix) => {
    expect(scanRegex(source).prefix).toBe(prefix);
  });
});

describe('the literal every match must contain', () => {
  it.each([
    ['(^| )scope-1( |$)', 'scope-1'],
    ['^/fhir/Patient/[^/]+$', '/fhir/Patient/'],
    ['ab+cd', 'ab'],
    ['abc?de', 'ab'],
    ['x*yz{0,2}w', 'y'],
    ['\\.example\\.com$', '.example.com'],
    ['a\\dbcd', 'bcd'],
    ['(abc)def', 'def'],
    ['[abc]+xyz(q|r)', 'xyz'],
    ['abc|defg', ''],
    ['a{2}bcd', 'bcd'],
  ])('%s requires %j', (source, required) => {
    expect(scanRegex(source).required).toBe(required);
  });

  it('answers like the full regex on every subject, with or without the literal (seeded)', () => {
    const patterns = [
      '(^| )scope-1( |$)',
      'ab+cd',
      'abc?de',
      'x*yz{0,2}w',
      'a[bc]+de(f|g)?h',
      '^pre-[0-9]+-fix$',
      '(?i)Scope-1',
    ];
    const alphabet = [
      'a',
      'b',
      'c',
      'd',
      'e',
      'h',
      'x',
      'y',
      'z',
      'w',
      ' ',
      '-',
      '1',
      'scope',
      'pre-',
      'fix',
      'S',
    ];
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (const pattern of patterns) {
      const safe = compileSafeRegex(pattern);
      const native = pattern.startsWith('(?i)') ? new RegExp(pattern.slice(4), 'i') : new RegExp(pattern);
      for (let n = 0; n < 3000; n++) {
        let subject = '';
        for (let k = next() % 8; k > 0; k--) subject += alphabet[next() % alphabet.length];
        expect(safe.test(subject), `${pattern} on ${JSON.stringify(subject)}`).toBe(native.test(subject));
      }
    }
  });
});
