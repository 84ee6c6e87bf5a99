import {
  type AccessPolicy,
  type Reference,
  type ResourceType,
  type Role,
  referenceId,
  type TokenIntrospector,
} from '@authz/protocol';
import { type ApiIssue, invalidResource } from '../http/errors.js';
import { schemaIssues } from './schema.js';

/**
 * The checks that need the engines themselves: keys and PEMs parsed, URLs checked, policies
 * compiled. They live behind this interface so the API never stores what a worker could not
 * load, and so the engines stay in `@authz/verifier` and `@authz/policy`.
 */
export interface EngineChecks {
  /** Normalises and compiles an introspector; returns the form to store, or the issues. */
  introspector(resource: TokenIntrospector): { resource: TokenIntrospector } | { issues: ApiIssue[] };
  /** Compiles a policy; returns its issues (none when it compiles). */
  policy(resource: AccessPolicy): ApiIssue[];
}

/** Server-managed `meta` fields: whatever a client sends for them is dropped. */
const SERVER_META = ['versionId', 'lastUpdated'];

/**
 * Validates a body as a resource of `type` stored under `id`, and returns what to store.
 * Throws a 422 listing every problem, each naming its path; nothing partial is ever returned.
 * `resourceType` and `id` may be omitted from the body (the URL supplies them) but must not
 * contradict it.
 */
export function prepareResource(
  type: ResourceType,
  id: string,
  body: unknown,
  checks: EngineChecks,
): Record<string, unknown> {
  if (!isPlainObject(body)) {
    throw invalidResource([
      { code: 'structure', diagnostics: 'the body must be an object (a resource)', expression: type },
    ]);
  }
  const input = body;
  const issues: ApiIssue[] = [];
  if (input.resourceType !== undefined && input.resourceType !== type) {
    issues.push({
      code: 'value',
      diagnostics: `resourceType ${JSON.stringify(input.resourceType)} in the body differs from ${type} in the URL`,
      expression: `${type}.resourceType`,
    });
  }
  if (input.id !== undefined && input.id !== id) {
    issues.push({
      code: 'value',
      diagnostics: `id ${JSON.stringify(input.id)} in the body differs from ${JSON.stringify(id)} in the URL`,
      expression: `${type}.id`,
    });
  }
  if (issues.length > 0) throw invalidResource(issues);
  const { resourceType: _t, id: _i, ...rest } = input;
  const resource: Record<string, unknown> = { resourceType: type, id, ...rest };
  stripServerMeta(resource);
  return checkResource(type, resource, checks);
}

/** Schema, then engine checks; returns the resource to store (normalised for introspectors). */
export function checkResource(
  type: ResourceType,
  resource: Record<string, unknown>,
  checks: EngineChecks,
): Record<string, unknown> {
  const issues = schemaIssues(type, resource);
  if (issues.length > 0) throw invalidResource(issues);
  switch (type) {
    case 'TokenIntrospector': {
      const checked = checks.introspector(resource as TokenIntrospector);
      if ('issues' in checked) throw invalidResource(checked.issues);
      return checked.resource as Record<string, unknown>;
    }
    case 'AccessPolicy': {
      const policyIssues = checks.policy(resource as AccessPolicy);
      if (policyIssues.length > 0) throw invalidResource(policyIssues);
      return resource;
    }
    case 'Role': {
      const role = resource as Role;
      if (referenceId(role.user as Reference, 'User') === undefined) {
        throw invalidResource([
          {
            code: 'value',
            diagnostics: 'must reference a User: {id: <user id>} or {reference: "User/<id>"}',
            expression: 'Role.user',
          },
        ]);
      }
      return resource;
    }
    default:
      return resource;
  }
}

function stripServerMeta(resource: Record<string, unknown>): void {
  const meta = resource.meta;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return;
  const kept = Object.fromEntries(Object.entries(meta).filter(([k]) => !SERVER_META.includes(k)));
  if (Object.keys(kept).length === 0) delete resource.meta;
  else resource.meta = kept;
}

/** Prefixes an engine-reported path (`jwt.keys[1].pub`) with the resource type. */
export function qualify(type: string, path: string): string {
  if (path === '' || path === type) return type;
  if (path.startsWith(`${type}.`)) return path;
  return path.startsWith('[') ? `${type}${path}` : `${type}.${path}`;
}

/** Whether `value` is a JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
