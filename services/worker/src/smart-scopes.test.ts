import type { TokenIntrospector } from '@authz/protocol';
import { SmartError } from '@authz/smart';
import type { VerifiedIdentity } from '@authz/verifier';
import { describe, expect, test } from 'vitest';
import { grantOf } from './smart-scopes.js';

const introspector = (smart?: boolean): TokenIntrospector => ({
  resourceType: 'TokenIntrospector',
  id: 'idp',
  type: 'jwt',
  jwt: { iss: 'https://idp.example', secret: 'x'.repeat(32) },
  ...(smart === undefined ? {} : { smart_scopes: smart }),
});
const verified = (claims: Record<string, unknown>, kind: 'jwt' | 'opaque' = 'jwt'): VerifiedIdentity => ({
  kind,
  introspector: 'idp',
  claims: { scope: 'patient/Observation.rs', ...claims },
});

describe('when SMART scopes are enforced (DESIGN §13)', () => {
  test.each([
    ['atv 2 (number)', { atv: 2 }, undefined, true],
    ['atv "2" (string, as Keycloak mappers emit)', { atv: '2' }, undefined, true],
    ['atv 1', { atv: 1 }, undefined, false],
    ['no atv', {}, undefined, false],
    ['no atv, smart_scopes: true', {}, true, true],
    ['no atv, smart_scopes: false', {}, false, false],
  ])('%s → enforced %s', (_name, claims, smart, enforced) => {
    const grant = grantOf(verified(claims), introspector(smart));
    expect(grant !== null).toBe(enforced);
  });

  test('an opaque token whose introspector sets smart_scopes is enforced from its scope and patient', () => {
    const grant = grantOf(verified({ patient: 'pt1' }, 'opaque'), introspector(true));
    if (grant === null || grant instanceof SmartError) throw new Error('expected a grant');
    expect(grant.patient?.ids).toEqual(['pt1']);
    expect(grant.granted).toBe('patient/Observation.rs');
  });

  test('a cached token is parsed once; a changed introspector is noticed', () => {
    const token = verified({ atv: 2 });
    const idp = introspector();
    const first = grantOf(token, idp);
    expect(grantOf(token, idp)).toBe(first);
    expect(grantOf(token, introspector(true))).not.toBe(first);
  });

  test('invalid scopes yield the error that refuses the token', () => {
    const grant = grantOf(verified({ atv: 2, scope: 'patient/Observation.dus' }), introspector());
    expect(grant).toBeInstanceOf(SmartError);
    expect((grant as SmartError).code).toBe('ERR_SMART_SCOPE_INVALID');
  });
});
