import { compartmentParams, searchParam, searchParamCodes } from '../fhir/definitions.js';
import type { ResourceScope } from '../scopes/parse.js';
import type { PatientContext } from '../scopes/patient.js';

/** Search parameters (already percent-decoded), a repeated one as a list. */
export type SearchParams = Readonly<Record<string, string | readonly string[]>>;

/**
 * Result-shaping parameters a gateway cannot confine to a compartment: they pull in resources
 * the search parameters do not select (`_revinclude`, `_include`), or select by other resources
 * (`_has`), or by an expression (`_filter`, `_query`, `_contained`).
 */
const UNCONFINABLE: ReadonlySet<string> = new Set([
  '_include',
  '_revinclude',
  '_has',
  '_filter',
  '_query',
  '_contained',
  '_list',
]);

/** Whether resources of `type` can be in a Patient compartment (the Patient itself included). */
export function isCompartmentType(type: string): boolean {
  return type === 'Patient' || compartmentParams(type) !== undefined;
}

/**
 * Why a search of `type` with `params` is not confined the way `scope` requires, or `undefined`
 * when it is: under a `patient/` scope, to the context patient's compartment (a compartment
 * search of that patient, or a compartment parameter naming that patient and no other); under a
 * v2 constraint, each constraint parameter carried with exactly the scope's value.
 */
export function searchNotConfined(
  scope: ResourceScope,
  type: string,
  params: SearchParams,
  patient: PatientContext | undefined,
  compartmentId: string | undefined,
): string | undefined {
  if (scope.level === 'patient' && isCompartmentType(type)) {
    if (!patient) return `the token has ${scope.text} but names no patient (context.patient or patient)`;
    const unconfinable = unconfinableParam(params);
    if (unconfinable)
      return `${unconfinable} cannot be confined to ${patient.label}'s compartment; search without it`;
    if (compartmentId !== undefined) {
      if (!patient.ids.includes(compartmentId))
        return `the compartment searched is Patient/${compartmentId}; ${scope.text} allows only ${patient.label}`;
    } else {
      const problem = namesOnlyThePatient(type, params, patient);
      if (problem) return problem;
    }
  }
  for (const { param, value } of scope.constraints) {
    const given = params[param];
    const values = given === undefined ? [] : typeof given === 'string' ? [given] : given;
    if (!values.includes(value)) return `${scope.text} requires the search to carry ${param}=${value}`;
  }
  return undefined;
}

function unconfinableParam(params: SearchParams): string | undefined {
  for (const key in params) {
    const colon = key.indexOf(':');
    const name = colon < 0 ? key : key.slice(0, colon);
    if (UNCONFINABLE.has(name)) return name;
  }
  return undefined;
}

/**
 * `patient=pt1`, `subject=Patient/pt1`: a parameter that puts the search inside the patient's
 * compartment. Those are the type's compartment parameters and the parameters whose expression
 * is one of them narrowed to Patient references (R4 `patient` is `subject.where(resolve() is
 * Patient)`), compared on the library's own rendering of the expressions. Every occurrence of
 * such a parameter must name only the patient in context.
 */
function namesOnlyThePatient(
  type: string,
  params: SearchParams,
  patient: PatientContext,
): string | undefined {
  let named = false;
  for (const key in params) {
    const [code, modifier] = key.split(':', 2) as [string, string?];
    if (!confiningParams(type).has(code)) continue;
    if (modifier !== undefined && modifier !== 'Patient')
      return `${key} does not name a patient; use ${code}=${patient.label}`;
    const raw = params[key] as string | readonly string[];
    // A bare id names a Patient only where the parameter can point at nothing else
    // (`subject=pt1` also matches Group/pt1).
    const bareIsPatient = code === '_id' || modifier === 'Patient' || onlyPatients(type, code);
    for (const value of typeof raw === 'string' ? [raw] : raw) {
      if (!namesPatient(value, patient, code === '_id', bareIsPatient))
        return `${key}=${value} does not name ${patient.label} alone (one value, no lists; ${code}=Patient/${patient.ids[0] ?? '…'} where other types may be meant)`;
      named = true;
    }
  }
  if (named) return undefined;
  const hint =
    type === 'Patient' ? `_id=${patient.ids[0] ?? ''}` : `patient=${patient.ids[0] ?? patient.label}`;
  return `a search under patient/ scopes must stay in ${patient.label}'s compartment: add ${hint} (or search Patient/${patient.ids[0] ?? '…'}/${type})`;
}

function namesPatient(
  value: string,
  patient: PatientContext,
  bareIdOnly: boolean,
  bareIsPatient: boolean,
): boolean {
  if (value.includes(',')) return false; // a list names more than one patient
  if (patient.ids.includes(value)) return bareIsPatient;
  if (bareIdOnly) return false;
  return (
    patient.urls.includes(value) || (value.startsWith('Patient/') && patient.ids.includes(value.slice(8)))
  );
}

function onlyPatients(type: string, code: string): boolean {
  const targets = searchParam(type, code)?.targets ?? [];
  return targets.length === 1 && targets[0] === 'Patient';
}

const confining = new Map<string, ReadonlySet<string>>();

function confiningParams(type: string): ReadonlySet<string> {
  let set = confining.get(type);
  if (set) return set;
  const codes = new Set<string>();
  if (type === 'Patient') codes.add('_id');
  const compartment = compartmentParams(type) ?? [];
  const expressions = new Set<string>();
  for (const code of compartment) {
    codes.add(code);
    for (const atom of searchParam(type, code)?.atoms ?? []) expressions.add(String(atom));
  }
  // Other reference parameters of the type that are a compartment parameter narrowed to Patient.
  for (const code of searchParamCodes(type)) {
    if (codes.has(code)) continue;
    const definition = searchParam(type, code);
    if (definition?.type !== 'reference' || definition.atoms.length === 0) continue;
    const narrowed = definition.atoms.every((atom) => {
      const text = String(atom);
      return (
        expressions.has(text) || [...expressions].some((e) => text === `${e}.where((resolve() is Patient))`)
      );
    });
    if (narrowed) codes.add(code);
  }
  set = codes;
  confining.set(type, set);
  return set;
}
