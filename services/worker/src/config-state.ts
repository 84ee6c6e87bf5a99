import { type CompiledPolicy, compilePolicy, PolicySet } from '@authz/policy';
import {
  type AccessPolicy,
  type Client,
  parseResourceKey,
  type Role,
  referenceId,
  type TokenIntrospector,
} from '@authz/protocol';
import type { Logger } from '@authz/runtime';

/** One KV change as the worker applies it. */
export interface ConfigChange {
  key: string;
  revision: number;
  /** `undefined` for a delete or purge. */
  value?: unknown;
}

/**
 * The configuration a worker decides with: every TokenIntrospector, AccessPolicy, Role and
 * Client in memory, policies compiled once per revision. Users are not here (see UserDirectory).
 *
 * Changes are applied one by one; derived structures are brought up to date once per batch by
 * {@link ConfigState.commit}: the PolicySet is built in one pass at the first commit (the
 * snapshot), then updated with just the policies changed since the previous commit, so a change
 * costs microseconds whatever the number of policies (issue 6); the verifier's introspector set
 * and the roles by user are rebuilt (they are small).
 */
export class ConfigState {
  /** Highest KV revision applied. */
  revision = 0;
  policySet = new PolicySet([]);
  private readonly introspectors = new Map<string, TokenIntrospector>();
  private readonly policies = new Map<string, CompiledPolicy>();
  private readonly clients = new Map<string, Client>();
  private readonly roles = new Map<string, Role>();
  private rolesByUser = new Map<string, Role[]>();
  /** Ids of the AccessPolicies put or deleted since the last commit. */
  private readonly changedPolicies = new Set<string>();
  private policiesBuilt = false;
  private dirty = { introspectors: false, roles: false };

  constructor(
    private readonly logger: Logger,
    private readonly onIntrospectors: (list: TokenIntrospector[]) => void,
  ) {}

  /** Applies one change; returns the resource type it touched (or undefined when ignored). */
  apply(change: ConfigChange): string | undefined {
    if (change.revision > this.revision) this.revision = change.revision;
    const ref = parseResourceKey(change.key);
    if (!ref) return undefined;
    const value = change.value as Record<string, unknown> | undefined;
    switch (ref.type) {
      case 'TokenIntrospector':
        setOrDelete(this.introspectors, ref.id, value as TokenIntrospector | undefined);
        this.dirty.introspectors = true;
        break;
      case 'AccessPolicy':
        this.applyPolicy(ref.id, value as AccessPolicy | undefined);
        break;
      case 'Role':
        setOrDelete(this.roles, ref.id, value as Role | undefined);
        this.dirty.roles = true;
        break;
      case 'Client':
        setOrDelete(this.clients, ref.id, value as Client | undefined);
        break;
      case 'User':
        break;
    }
    return ref.type;
  }

  /** Brings up to date what the applied changes made stale. Cheap when nothing changed. */
  commit(): void {
    if (!this.policiesBuilt || this.changedPolicies.size > 0) this.commitPolicies();
    if (this.dirty.introspectors) this.onIntrospectors([...this.introspectors.values()]);
    if (this.dirty.roles) this.rolesByUser = indexRoles(this.roles.values());
    this.dirty = { introspectors: false, roles: false };
  }

  /** Role resources granted to a user. */
  rolesOf(userId: string): Role[] {
    return this.rolesByUser.get(userId) ?? EMPTY_ROLES;
  }

  client(id: string): Client | undefined {
    return this.clients.get(id);
  }

  /** Every compiled AccessPolicy (the SMART `$operation` step evaluates the linked ones). */
  allPolicies(): Iterable<CompiledPolicy> {
    return this.policies.values();
  }

  /** A TokenIntrospector resource by id (its `dpop` setting is read per request, DESIGN §13); a changed one is a new object. */
  introspector(id: string): TokenIntrospector | undefined {
    return this.introspectors.get(id);
  }

  get counts(): Record<string, number> {
    return {
      TokenIntrospector: this.introspectors.size,
      AccessPolicy: this.policies.size,
      Role: this.roles.size,
      Client: this.clients.size,
    };
  }

  private commitPolicies(): void {
    const ids = [...this.changedPolicies];
    this.changedPolicies.clear();
    if (!this.policiesBuilt) {
      this.policySet = new PolicySet([...this.policies.values()]);
      this.policiesBuilt = true;
      return;
    }
    const upserts: CompiledPolicy[] = [];
    const deletes: string[] = [];
    for (const id of ids) {
      const policy = this.policies.get(id);
      if (policy) upserts.push(policy);
      else deletes.push(id);
    }
    try {
      // In place: synchronous like every decision, so none sees half of this update.
      this.policySet.update(upserts, deletes);
    } catch (err) {
      // Not expected; an index left half updated could deny wrongly, so start it over in one pass.
      this.logger.error({ err }, 'updating the policy set failed; rebuilding it');
      this.policySet = new PolicySet([...this.policies.values()]);
    }
  }

  private applyPolicy(id: string, resource: AccessPolicy | undefined): void {
    this.changedPolicies.add(id);
    if (!resource) {
      this.policies.delete(id);
      return;
    }
    try {
      // Lazy: a cold start with thousands of json-schema policies must not compile them all up
      // front; the config service already compiled each one at PUT.
      this.policies.set(id, compilePolicy({ ...resource, id }, { lazy: true }));
    } catch (err) {
      // The config service validates before storing, so this means a version skew. The policy
      // can never allow; dropping it keeps the worker failing closed.
      this.policies.delete(id);
      this.logger.error({ policy: id, err }, 'stored AccessPolicy does not compile; it is ignored');
    }
  }
}

const EMPTY_ROLES: Role[] = [];

function setOrDelete<T>(map: Map<string, T>, id: string, value: T | undefined): void {
  if (value === undefined) map.delete(id);
  else map.set(id, { ...value, id } as T);
}

function indexRoles(roles: Iterable<Role>): Map<string, Role[]> {
  const index = new Map<string, Role[]>();
  for (const role of roles) {
    const userId = role.user ? referenceId(role.user, 'User') : undefined;
    if (!userId) continue;
    const list = index.get(userId);
    if (list) list.push(role);
    else index.set(userId, [role]);
  }
  return index;
}
