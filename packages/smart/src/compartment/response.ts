import type { ResponseRequirement } from '../enforce.js';
import { inPatientCompartment, matchesConstraints } from './resource.js';

/** Most Bundle entries (instance history) a response check reads before refusing. */
export const MAX_CHECKED_ENTRIES = 1000;

/**
 * Why the upstream's parsed JSON response to an allowed read may not reach the client, or
 * `undefined` when it may: the resource (or, for instance history, every resource of the
 * Bundle) must be the type read and satisfy one of the requirement's alternatives. An
 * OperationOutcome (the upstream's own error) carries no patient data and passes.
 */
export function responseRefusal(requirement: ResponseRequirement, body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return 'the response is not a FHIR resource';
  const resource = body as Record<string, unknown>;
  if (resource.resourceType === 'OperationOutcome') return undefined;
  if (resource.resourceType === 'Bundle' && requirement.resourceType !== 'Bundle') {
    const entries = Array.isArray(resource.entry) ? resource.entry : [];
    if (entries.length > MAX_CHECKED_ENTRIES)
      return `the response Bundle has more than ${MAX_CHECKED_ENTRIES} entries`;
    for (const [index, entry] of entries.entries()) {
      const inner = (entry as { resource?: unknown } | null)?.resource;
      if (inner === undefined) continue; // a deleted version carries no resource
      const problem = resourceRefusal(requirement, inner);
      if (problem) return `entry ${index}: ${problem}`;
    }
    return undefined;
  }
  return resourceRefusal(requirement, resource);
}

function resourceRefusal(requirement: ResponseRequirement, value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a FHIR resource';
  const resource = value as Record<string, unknown>;
  if (resource.resourceType !== requirement.resourceType)
    return `a ${String(resource.resourceType).slice(0, 64)} where a ${requirement.resourceType} was read`;
  for (const alternative of requirement.anyOf) {
    const patient = alternative.patient;
    if (patient && !inPatientCompartment(resource, { ...patient, label: '' })) continue;
    if (matchesConstraints(resource, alternative.constraints)) return undefined;
  }
  const id = typeof resource.id === 'string' ? `/${resource.id.slice(0, 64)}` : '';
  return `${requirement.resourceType}${id} is outside the token's SMART scopes (patient compartment or scope search parameters)`;
}
