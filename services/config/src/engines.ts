import { compilePolicy, PolicyConfigError, testPolicy } from '@authz/policy';
import type { AccessPolicy, ExplainEntry, TokenIntrospector } from '@authz/protocol';
import {
  checkResolvedHost,
  compileIntrospector,
  discoveryUrlOf,
  IntrospectorConfigError,
  introspectionCacheKey,
  introspectorWarnings,
  normalizeIntrospector,
  type ResolveAll,
} from '@authz/verifier';
import type { ApiIssue } from './http/errors.js';
import { type EngineChecks, qualify } from './validate/resource.js';

/** What `POST /$test-policy` answers (DESIGN §7). */
export interface PolicyTestResult {
  result: boolean;
  applicable: boolean;
  explain: ExplainEntry[];
}

/**
 * Everything the config service needs from the decision engines: the PUT-time checks, policy
 * evaluation for `/$test-policy`, and the Redis key of a cached introspection for `/$revoke`.
 */
export interface Engines extends EngineChecks {
  testPolicy(policy: AccessPolicy, context: Record<string, unknown>): PolicyTestResult;
  /** Redis key (without the shared-cache prefix) of an introspection result. */
  introspectionCacheKey(introspectorId: string, tokenHash: string): string;
  /**
   * DESIGN §11 fetch safety at PUT: the introspector's URLs whose host resolves (now, from here)
   * to a link-local, unspecified or multicast address, each as a 422 issue naming its field.
   */
  resolvedHostIssues(resource: TokenIntrospector): Promise<ApiIssue[]>;
  /** Accepted risks of storing `resource` beside `others`, for `X-Authz-Warning` (DESIGN §11). */
  introspectorWarnings(resource: TokenIntrospector, others: readonly TokenIntrospector[]): string[];
}

/**
 * {@link Engines} backed by `@authz/verifier` (every key and PEM parsed, outbound URL rules) and
 * `@authz/policy` (policies compiled, unsupported engines named). What passes here is exactly
 * what a worker can load.
 */
export function realEngines(
  options: {
    insecureHosts?: readonly string[];
    /** How PUT-time checks resolve host names; default `dns.lookup` (tests resolve names of their own). */
    resolve?: ResolveAll;
  } = {},
): Engines {
  const insecureHosts = options.insecureHosts ?? [];
  return {
    introspector(resource: TokenIntrospector) {
      try {
        const normalized = normalizeIntrospector(resource);
        compileIntrospector(normalized, { insecureHosts });
        return { resource: normalized };
      } catch (err) {
        if (!(err instanceof IntrospectorConfigError)) throw err;
        return { issues: toIssues('TokenIntrospector', err.issues, 'invalid') };
      }
    },
    policy(resource: AccessPolicy) {
      try {
        compilePolicy(resource);
        return [];
      } catch (err) {
        if (!(err instanceof PolicyConfigError)) throw err;
        const code = err.code === 'ERR_POLICY_ENGINE_UNSUPPORTED' ? 'not-supported' : 'invalid';
        return toIssues('AccessPolicy', err.issues, code);
      }
    },
    testPolicy(policy, context) {
      const { result, applicable, explain } = testPolicy(policy, context);
      return { result, applicable, explain };
    },
    introspectionCacheKey,
    resolvedHostIssues: async (resource) => {
      const issues = await Promise.all(
        outboundUrls(resource).map(async ({ path, url }) => {
          const problem = await checkResolvedHost(url, options.resolve);
          return problem === undefined ? [] : [{ path, message: problem }];
        }),
      );
      return toIssues('TokenIntrospector', issues.flat(), 'invalid');
    },
    introspectorWarnings,
  };
}

/** Every URL a worker would fetch for `resource`, with the field that names it. */
function outboundUrls(resource: TokenIntrospector): Array<{ path: string; url: string }> {
  const urls: Array<{ path: string; url: string }> = [];
  if (resource.jwks_uri !== undefined) urls.push({ path: 'jwks_uri', url: resource.jwks_uri });
  if (resource.jwt?.discovery === true)
    urls.push({ path: 'jwt.discovery', url: discoveryUrlOf(resource.jwt.iss) });
  const endpoint = resource.introspection_endpoint?.url;
  if (endpoint !== undefined) urls.push({ path: 'introspection_endpoint.url', url: endpoint });
  return urls;
}

function toIssues(
  type: string,
  issues: ReadonlyArray<{ path: string; message: string }>,
  code: ApiIssue['code'],
): ApiIssue[] {
  return issues.map((i) => ({ code, diagnostics: i.message, expression: qualify(type, i.path) }));
}
