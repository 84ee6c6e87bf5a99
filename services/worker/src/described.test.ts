import { compileOperationResolver } from '@authz/policy';
import { createLogger } from '@authz/runtime';
import {
  ClientAuthenticator,
  InvalidTokenError,
  type VerifiedIdentity,
  type VerifiedToken,
} from '@authz/verifier';
import { describe, expect, it } from 'vitest';
import { ConfigState } from './config-state.js';
import { type Decision, type DecisionDeps, decide } from './decide.js';
import { type DescribedToken, describeCachedToken, type TokenSource } from './described.js';
import { checkReplyJson } from './events.js';
import { parseCheckRequest } from './request.js';

// decide() against fakes: a token source and a User directory in memory, no NATS, no keys.

const alice: VerifiedIdentity = {
  kind: 'jwt',
  introspector: 'idp',
  claims: { iss: 'https://idp.example', sub: 'alice', scope: '', extra: { empty: [] } },
  exp: 4_000_000_000,
};

/** A token source that knows one cached token and one token it verifies now; counts verifications. */
function fakeTokens(): TokenSource & { verified: number } {
  const entry: VerifiedToken<DescribedToken> = { identity: alice, derived: describeCachedToken(alice) };
  return {
    verified: 0,
    cached: (token) => (token === 'cached' ? entry : undefined),
    verify(token) {
      this.verified++;
      if (token === 'fresh') return Promise.resolve({ ...alice, claims: { ...alice.claims } });
      return Promise.reject(new InvalidTokenError('ERR_TOKEN_MALFORMED', 'not a token this fake knows'));
    },
  };
}

function depsWith(verifier: TokenSource): DecisionDeps {
  const config = new ConfigState(createLogger('t', 'silent'), () => {});
  config.apply({
    key: 'AccessPolicy.no-empty-scope',
    revision: 1,
    // Empty claims are pruned from the context (Aidbox), so `scope: ''` is not present.
    value: {
      resourceType: 'AccessPolicy',
      id: 'no-empty-scope',
      engine: 'matcho',
      matcho: { jwt: { sub: 'alice', scope: 'nil?' } },
    },
  });
  config.commit();
  return {
    config,
    verifier,
    users: { get: (id) => (id === 'alice' ? { resourceType: 'User', id: 'alice' } : undefined) },
    operations: compileOperationResolver(),
    clients: new ClientAuthenticator({ client: () => undefined }),
    inlineRequests: false,
    sender: { check: () => undefined },
  };
}

function checkWith(token: string) {
  const parsed = parseCheckRequest(
    Buffer.from(
      JSON.stringify({ method: 'GET', uri: '/fhir/Patient', headers: { authorization: `Bearer ${token}` } }),
    ),
  );
  if (typeof parsed === 'string' || 'status' in parsed) throw new Error('bad test request');
  return parsed;
}

describe('decide with a fake token source', () => {
  it('answers a cached token synchronously from its described form, without verifying it again', () => {
    const tokens = fakeTokens();
    const decision = decide(checkWith('cached'), depsWith(tokens)) as Decision;
    expect(decision).not.toBeInstanceOf(Promise);
    expect(decision.reply).toMatchObject({
      allow: true,
      policy: 'no-empty-scope',
      identity: { sub: 'alice' },
    });
    expect(tokens.verified).toBe(0);
    // The reply's identity is written from the JSON its cache entry holds.
    expect(decision.described?.json).toBe(JSON.stringify(decision.reply.identity));
    expect(JSON.parse(checkReplyJson(decision.reply, decision.described?.json)).identity).toEqual(
      decision.reply.identity,
    );
  });

  it('decides a token verified just now the same way, with its claims pruned per request', async () => {
    const tokens = fakeTokens();
    const decision = await decide(checkWith('fresh'), depsWith(tokens));
    expect(decision.reply).toMatchObject({
      allow: true,
      policy: 'no-empty-scope',
      identity: { sub: 'alice' },
    });
    expect(decision.described?.json).toBeUndefined();
    expect(tokens.verified).toBe(1);
  });

  it('refuses a token the source refuses, keeping what explain must scrub', async () => {
    const decision = await decide(checkWith('forged'), depsWith(fakeTokens()));
    expect(decision.reply).toMatchObject({ allow: false, status: 401, error_code: 'ERR_TOKEN_MALFORMED' });
    expect(decision.presented).toEqual({ scheme: 'bearer', token: 'forged' });
  });
});
