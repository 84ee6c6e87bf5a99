import { type AccessPolicy, type ExplainEntry, type Reference, referenceId } from '@authz/protocol';
import type { RequestContext } from './context/build.js';
import { compileRule } from './engines/compile-rule.js';
import { type CompiledRule, type Constraints, safeExplain } from './engines/rule.js';
import { childPath, IssueCollector } from './errors.js';

/** Whom a policy is linked to (Aidbox `link`), by id. */
export interface PolicyLinks {
  users: string[];
  clients: string[];
  operations: string[];
}

/** An AccessPolicy ready to evaluate, compiled once per configuration revision. */
export interface CompiledPolicy {
  readonly id: string;
  /** The engine of the top-level rule (inferred for legacy policies without `engine`). */
  readonly engine: string;
  readonly roleName?: string;
  readonly links?: PolicyLinks;
  /**
   * What any request this policy allows must satisfy (method, resource type, URI): the candidate
   * index files the policy under these. Absent: unconstrained (always a candidate).
   */
  readonly constraints?: Constraints;
  /** Hot path: true when the policy allows the request. Never throws: internal errors are false. */
  evaluate(ctx: RequestContext): boolean;
  /** Why the policy does or does not allow (explain output; never repeats credentials). */
  explain(ctx: RequestContext): ExplainEntry;
}

/** Options of {@link compilePolicy}. */
export interface CompileOptions {
  /**
   * Defer expensive compilation (ajv code generation) to the first evaluation. Workers use it to
   * start fast with many policies; the config service compiles eagerly at PUT, so a deferred
   * failure at runtime can only mean a stored policy it never accepted: it evaluates false.
   */
  lazy?: boolean;
}

const LINK_TYPES = { User: 'users', Client: 'clients', Operation: 'operations' } as const;

/**
 * Validates and compiles an AccessPolicy (engines `allow`, `json-schema`, `matcho`, `complex`).
 *
 * @throws PolicyConfigError with every issue found, each naming its path (`matcho.uri`,
 *   `schema.properties.x`, `and[1].engine`); code `ERR_POLICY_ENGINE_UNSUPPORTED` when an engine
 *   is refused (`sql`, `*-rpc`, `smart-on-fhir`, `clj`, unknown), else `ERR_POLICY_INVALID`.
 * @example compilePolicy({ resourceType: 'AccessPolicy', id: 'p', engine: 'matcho', matcho: { 'request-method': 'get' } })
 */
export function compilePolicy(resource: AccessPolicy, options: CompileOptions = {}): CompiledPolicy {
  const issues = new IssueCollector();
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    issues.add('', 'an AccessPolicy must be a map');
    issues.throwIfAny();
  }
  if (resource.resourceType !== undefined && resource.resourceType !== 'AccessPolicy') {
    issues.add('resourceType', 'must be AccessPolicy');
  }
  const links = compileLinks(resource.link, issues);
  if (
    resource.roleName !== undefined &&
    (typeof resource.roleName !== 'string' || resource.roleName === '')
  ) {
    issues.add('roleName', 'roleName must be a non-empty string');
  }
  const rule = compileRule(resource as Record<string, unknown>, '', issues, {
    lazy: options.lazy === true,
    depth: 0,
  });
  issues.throwIfAny();
  return policyOf(resource.id ?? '', rule, links, resource.roleName);
}

function policyOf(
  id: string,
  rule: CompiledRule,
  links: PolicyLinks | undefined,
  roleName: string | undefined,
): CompiledPolicy {
  return {
    id,
    engine: rule.engine,
    roleName,
    links,
    constraints: rule.constraints,
    evaluate(ctx) {
      // Never allow on an internal error (a regex subject too long, a deferred compile failure).
      try {
        return rule.evaluate(ctx) === true;
      } catch {
        return false;
      }
    },
    explain: (ctx) => safeExplain(rule, ctx, id),
  };
}

function compileLinks(
  link: readonly Reference[] | undefined,
  issues: IssueCollector,
): PolicyLinks | undefined {
  if (link === undefined) return undefined;
  if (!Array.isArray(link) || link.length === 0) {
    // An empty list linking "nobody" or "everybody" would be a guess: refuse and say which to write.
    issues.add(
      'link',
      'link must name at least one User, Client or Operation; omit it to apply the policy to every request',
    );
    return undefined;
  }
  const links: PolicyLinks = { users: [], clients: [], operations: [] };
  link.forEach((ref, i) => {
    const found = Object.entries(LINK_TYPES).find(
      ([type]) => ref && referenceId(ref, type) !== undefined && typeOf(ref) === type,
    );
    if (found === undefined) {
      issues.add(
        childPath('link', i),
        'a link must reference a User, Client or Operation by id ({resourceType, id} or {reference: "User/id"})',
      );
      return;
    }
    const [type, key] = found;
    links[key].push(referenceId(ref, type) as string);
  });
  return links;
}

function typeOf(ref: Reference): string | undefined {
  return ref.reference !== undefined ? ref.reference.split('/')[0] : ref.resourceType;
}
