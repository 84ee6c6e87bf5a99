import type { AccessPolicy, CheckRequest } from '@authz/protocol';
import {
  AIDBOX_OPERATION_EXAMPLES,
  EXAMPLE_CLIENTS,
  EXAMPLE_ROLES,
  EXAMPLE_USERS,
  type ExampleCaller,
} from '@authz/test-support';
import { describe, expect, it } from 'vitest';
import { buildRequestContext, type ContextIdentity } from './context/build.js';
import { compileOperationResolver } from './fhir/resolve.js';
import { compilePolicy } from './policy.js';
import { PolicySet, type Subject } from './set/policy-set.js';

// Aidbox's Operation-keyed policies decided in-process: request → Operation → context →
// PolicySet (the candidate index included). Bundle rows need the worker's entry loop: they run
// end to end in test/aidbox-operations.test.ts.
const operations = compileOperationResolver();

function identityOf(caller: ExampleCaller): { identity?: ContextIdentity; subject: Subject } {
  if (caller === undefined) return { subject: { roles: new Set() } };
  if ('client' in caller) {
    const { secret: _secret, ...client } = EXAMPLE_CLIENTS.find((c) => c.id === caller.client) ?? {};
    return { identity: { client }, subject: { client: caller.client, roles: new Set() } };
  }
  if ('user' in caller) {
    const user = EXAMPLE_USERS.find((u) => u.id === caller.user);
    const role = EXAMPLE_ROLES.filter(
      (r) => (r.user as { reference: string }).reference === `User/${caller.user}`,
    );
    return {
      identity: {
        jwt: { sub: caller.user, ...caller.claims },
        user,
        role: role.length > 0 ? role : undefined,
      },
      subject: { user: caller.user, roles: new Set(role.map((r) => r.name as string)) },
    };
  }
  return { identity: { jwt: { sub: 'someone', ...caller.claims } }, subject: { roles: new Set() } };
}

describe.each(AIDBOX_OPERATION_EXAMPLES)('Aidbox docs: $name', ({ policies, rows }) => {
  const set = new PolicySet(policies.map((p) => compilePolicy(p as AccessPolicy)));
  const single = rows.filter((row) => !(row.method === 'POST' && row.uri === '/fhir'));
  it.each(single)('$what: $method $uri → $status', (row) => {
    const { identity, subject } = identityOf(row.as);
    const request: CheckRequest = { method: row.method, uri: row.uri, body: row.body };
    const operation = operations.resolveTarget(row.method, row.uri);
    const ctx = buildRequestContext(request, identity, operation?.ref);
    const allowed = set.decide(ctx, { ...subject, operation: operation?.id }).policy !== undefined;
    expect(allowed ? 200 : identity ? 403 : 401).toBe(row.status);
  });
});

describe('a policy linked only to Operations', () => {
  it('is a candidate only for requests resolved to them', () => {
    const linked = compilePolicy({
      resourceType: 'AccessPolicy',
      id: 'reads',
      engine: 'allow',
      link: [{ reference: 'Operation/FhirRead' }, { resourceType: 'Operation', id: 'Read' }],
    });
    const set = new PolicySet([linked]);
    const decide = (method: string, uri: string) => {
      const operation = operations.resolveTarget(method, uri);
      const ctx = buildRequestContext({ method, uri }, undefined, operation?.ref);
      return set.decide(ctx, { roles: new Set(), operation: operation?.id }, { explain: true });
    };
    expect(decide('GET', '/fhir/Patient/1').policy).toBe('reads');
    expect(decide('GET', '/Patient/1').policy).toBe('reads');
    // Not evaluated at all (no explain entry), not merely false.
    expect(decide('GET', '/fhir/Patient').explain).toEqual([]);
    expect(decide('DELETE', '/fhir/Patient/1').explain).toEqual([]);
    expect(decide('GET', '/api/x').explain).toEqual([]);
  });
});
