import { type Atom, toTypedValue } from '@medplum/core';
import { compartmentParams, searchParam } from '../fhir/definitions.js';
import type { ScopeConstraint } from '../scopes/parse.js';
import type { PatientContext } from '../scopes/patient.js';

/**
 * Whether a FHIR resource belongs to the Patient compartment of `patient` (R4
 * CompartmentDefinition `patient`): one of its compartment parameters, evaluated with the
 * parameter's own FHIRPath expression, references that patient. A Patient is in its own
 * compartment. Types outside the compartment definition are in no Patient's compartment.
 */
export function inPatientCompartment(resource: Record<string, unknown>, patient: PatientContext): boolean {
  const type = resource.resourceType;
  if (typeof type !== 'string') return false;
  if (type === 'Patient' && typeof resource.id === 'string' && patient.ids.includes(resource.id)) return true;
  const params = compartmentParams(type);
  if (!params) return false;
  for (const code of params) {
    const definition = searchParam(type, code);
    if (!definition) continue;
    for (const value of evaluate(definition.atoms, resource)) {
      if (referencesPatient(value, patient)) return true;
    }
  }
  return false;
}

/**
 * Whether `resource` matches every v2 scope constraint (`category=…|laboratory`), each evaluated
 * with its R4 search parameter's expression and FHIR search semantics for its type (token:
 * `code`, `system|code`, `|code`, `system|`; reference: `Type/id` or `id`; string: starts with,
 * case-insensitive; uri: equal).
 */
export function matchesConstraints(
  resource: Record<string, unknown>,
  constraints: readonly ScopeConstraint[],
): boolean {
  const type = resource.resourceType;
  if (typeof type !== 'string') return false;
  for (const { param, value } of constraints) {
    const definition = searchParam(type, param);
    if (!definition) return false;
    const values = evaluate(definition.atoms, resource);
    if (!values.some((v) => matchesValue(definition.type, v, value))) return false;
  }
  return true;
}

/** Whether a reference (Reference object or string) points at the patient in context. */
export function referencesPatient(value: unknown, patient: PatientContext): boolean {
  const reference = referenceString(value);
  if (reference === undefined) return false;
  if (patient.urls.includes(reference)) return true;
  if (!reference.startsWith('Patient/')) return false;
  const rest = reference.slice(8);
  const slash = rest.indexOf('/'); // `Patient/pt1/_history/2` is still Patient/pt1
  return patient.ids.includes(slash < 0 ? rest : rest.slice(0, slash));
}

function referenceString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const ref = (value as { reference?: unknown }).reference;
    if (typeof ref === 'string') return ref;
  }
  return undefined;
}

/**
 * The values a parameter's expression selects. A resource the engine cannot evaluate (a value of
 * an unexpected shape) selects nothing: it then matches no scope, it is never let through.
 */
function evaluate(atoms: readonly Atom[], resource: Record<string, unknown>): unknown[] {
  const input = [toTypedValue(resource)];
  const out: unknown[] = [];
  try {
    for (const atom of atoms) {
      for (const typed of atom.eval({ variables: {} }, input)) out.push(typed.value);
    }
  } catch {
    return [];
  }
  return out;
}

function matchesValue(paramType: string, actual: unknown, wanted: string): boolean {
  switch (paramType) {
    case 'token':
      return matchesToken(actual, wanted);
    case 'reference': {
      const ref = referenceString(actual);
      if (ref === undefined) return false;
      return wanted.includes('/')
        ? ref === wanted
        : ref.endsWith(`/${wanted}`) && ref.split('/').length === 2;
    }
    case 'string':
      return stringsOf(actual, 0).some((s) => s.toLowerCase().startsWith(wanted.toLowerCase()));
    case 'uri':
      return actual === wanted;
    default:
      return false; // refused when the scope was compiled; never a match by accident
  }
}

function matchesToken(actual: unknown, wanted: string): boolean {
  const bar = wanted.indexOf('|');
  const system = bar < 0 ? undefined : wanted.slice(0, bar);
  const code = bar < 0 ? wanted : wanted.slice(bar + 1);
  const test = (s: unknown, c: unknown): boolean => {
    if (system === '' && s !== undefined) return false; // `|code`: no system
    if (system && s !== system) return false;
    return code === '' ? system !== undefined : c === code;
  };
  if (typeof actual === 'string' || typeof actual === 'boolean' || typeof actual === 'number')
    return system === undefined && String(actual) === code; // a primitive code's system is implicit
  if (actual === null || typeof actual !== 'object') return false;
  const o = actual as Record<string, unknown>;
  if (Array.isArray(o.coding))
    return o.coding.some((c) => c !== null && typeof c === 'object' && test(c.system, c.code));
  if ('value' in o && !('code' in o)) return test(o.system, o.value); // Identifier, ContactPoint
  return test(o.system, o.code); // Coding
}

/** The string parts of a value (HumanName, Address: every part counts for a string search). */
function stringsOf(value: unknown, depth: number): string[] {
  if (typeof value === 'string') return [value];
  if (depth > 3 || value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap((v) => stringsOf(v, depth + 1));
}
