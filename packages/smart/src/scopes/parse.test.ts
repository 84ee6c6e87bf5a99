import { describe, expect, test } from 'vitest';
import { ScopeError } from '../errors.js';
import { compileGrant } from './grant.js';
import { PERM, parseScopes, permLetters } from './parse.js';

// Examples from HL7 SMART App Launch 2.2.0, scopes-and-launch-context.md, and Aidbox's
// "SMART scopes for limiting access" page.
describe('SMART 2.2 scope grammar', () => {
  test.each([
    ['patient/*.read', 'patient', '*', 'rs', []],
    ['user/Observation.write', 'user', 'Observation', 'cud', []],
    ['user/*.*', 'user', '*', 'cruds', []],
    ['patient/Observation.rs', 'patient', 'Observation', 'rs', []],
    ['user/Appointment.cruds', 'user', 'Appointment', 'cruds', []],
    ['patient/Observation.c', 'patient', 'Observation', 'c', []],
    ['system/*.rs', 'system', '*', 'rs', []],
    ['patient/Observation.s', 'patient', 'Observation', 's', []],
    [
      'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory',
      'patient',
      'Observation',
      'rs',
      [{ param: 'category', value: 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory' }],
    ],
    [
      'user/Observation.rs?category=laboratory&status=final',
      'user',
      'Observation',
      'rs',
      [
        { param: 'category', value: 'laboratory' },
        { param: 'status', value: 'final' },
      ],
    ],
  ])('%s parses', (text, level, type, perms, constraints) => {
    const [scope] = parseScopes(text);
    expect(scope).toEqual({ text, level, type, perms: expect.any(Number), constraints });
    expect(permLetters(scope?.perms ?? 0)).toBe(perms);
  });

  test.each([
    ['patient/Observation.dus', 'has permissions ".dus"'],
    ['patient/Observation.rr', 'has permissions ".rr"'],
    ['patient/Observation.', 'has permissions "."'],
    ['patient/Observation.readwrite', 'has permissions ".readwrite"'],
    ['patient/observation.rs', 'names no FHIR resource type'],
    ['patient/Observation', 'is not (patient|user|system)/<Type|*>.<permissions>'],
    ['system/Observation.rs?category=laboratory', 'search parameters are not allowed on system/ scopes'],
    ['user/*.cruds?status=final', 'search parameters are not allowed on a wildcard resource type'],
    ['patient/Observation.read?status=final', 'search parameters are not allowed with v1 permissions (read)'],
    [
      'patient/Observation.rs?_include=Observation:subject',
      '"_include" is not a plain search parameter name',
    ],
    ['patient/Observation.rs?code:in=http://vs', '"code:in" is not a plain search parameter name'],
    ['patient/Observation.rs?status=', 'status has no value'],
  ])('%s makes the token invalid', (text, message) => {
    expect(() => parseScopes(`openid ${text}`)).toThrowError(ScopeError);
    expect(() => parseScopes(text)).toThrowError(message);
  });

  test('other scopes are ignored and scopes combine as a union', () => {
    const scopes = parseScopes(
      'openid fhirUser launch/patient offline_access launch patient/Patient.r patient/Patient.s',
    );
    expect(scopes.map((s) => s.text)).toEqual(['patient/Patient.r', 'patient/Patient.s']);
    const grant = compileGrant({ scope: 'patient/Observation.r patient/Observation.s' });
    expect(grant.scopesFor('Observation', PERM.r).map((s) => s.text)).toEqual(['patient/Observation.r']);
    expect(grant.scopesFor('Observation', PERM.s).map((s) => s.text)).toEqual(['patient/Observation.s']);
  });

  test('a wildcard covers every type, a type only itself', () => {
    const grant = compileGrant({ scope: 'patient/*.read user/Observation.write' });
    expect(grant.scopesFor('Condition', PERM.r).map((s) => s.text)).toEqual(['patient/*.read']);
    expect(grant.scopesFor('Observation', PERM.c).map((s) => s.text)).toEqual(['user/Observation.write']);
    expect(grant.scopesFor('Condition', PERM.c)).toEqual([]);
    expect(grant.scopesFor('Condition', PERM.d)).toEqual([]);
  });

  test('a constraint must be an R4 search parameter of its type that resources can be matched on', () => {
    expect(() => compileGrant({ scope: 'patient/Observation.rs?colour=red' })).toThrowError(
      'colour is not an R4 search parameter of Observation',
    );
    expect(() => compileGrant({ scope: 'patient/Observation.rs?date=2020' })).toThrowError(
      'date is a date parameter; this gateway enforces token, reference, string and uri parameters in scopes',
    );
  });

  test('the patient context comes from context.patient, else patient; a bad shape is refused', () => {
    expect(compileGrant({ scope: '', context: { patient: 'pt1' } }).patient?.ids).toEqual(['pt1']);
    expect(compileGrant({ scope: '', patient: 'pt9' }).patient?.ids).toEqual(['pt9']);
    const listed = compileGrant({
      scope: '',
      context: { patient: [{ id: 'pt1' }, { url: 'https://ehr.example.com/fhir/Patient/pt1' }] },
    }).patient;
    expect(listed).toMatchObject({ ids: ['pt1'], urls: ['https://ehr.example.com/fhir/Patient/pt1'] });
    expect(() => compileGrant({ scope: '', context: { patient: 42 } })).toThrowError('patient context');
    expect(() => compileGrant({ scope: '', patient: 'a/b' })).toThrowError('is not a FHIR id');
  });

  test('a scope claim that is not a string, or too many scopes, refuses the token', () => {
    expect(() => parseScopes(42)).toThrowError(ScopeError);
    const many = Array.from({ length: 300 }, (_, i) => `user/T${i}.r`).join(' ');
    expect(() => parseScopes(many)).toThrowError('more than 256 SMART resource scopes');
  });
});
