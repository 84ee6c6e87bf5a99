import type { ResponseCheck } from '@authz/protocol';
import { inPatientCompartment, matchesConstraints } from './compartment/resource.js';
import { isCompartmentType, type SearchParams, searchNotConfined } from './compartment/search.js';
import type { SmartGrant } from './scopes/grant.js';
import { PERM, type ResourceScope } from './scopes/parse.js';

/**
 * What a request is to a FHIR server, as the Operation resolver (DESIGN §12) reports it; only
 * the members scopes need. `interaction` is one of the resolver's FhirInteraction names.
 */
export interface SmartTarget {
  /** Operation id (`FhirRead`, `Read`, `$validate`) */
  readonly id: string;
  readonly interaction: string;
  readonly resourceType?: string;
  readonly resourceId?: string;
  readonly compartment?: { readonly type: string; readonly id: string };
}

/** The request facts a scope check reads. */
export interface SmartRequest {
  /** `GET /fhir/Observation/o1`, for reasons */
  readonly what: string;
  /** the resolved FHIR interaction; `undefined` when the request is none */
  readonly target: SmartTarget | undefined;
  /** whether the path is under the FHIR base (an unresolved FHIR path is refused, not waved through) */
  readonly underFhirBase: boolean;
  /** search parameters of the query (and of a POST `_search`'s form body, when read), percent-decoded */
  readonly params: SearchParams;
  /**
   * a POST `_search`'s form body was read: `params` holds its fields after the query's (DESIGN
   * §10). Without it, the parameters in the body cannot be confined.
   */
  readonly bodyParamsSeen: boolean;
  /** parsed JSON body, when the policies can see it (DESIGN §10) */
  readonly body?: unknown;
  /** why the body cannot be seen, when it cannot */
  readonly bodyUnavailable?: string;
  /** the caller (the gateway in proxy mode) can check the upstream's response before sending it */
  readonly canCheckResponse: boolean;
  /** a create with `If-None-Exist` or a query: it may answer with an existing resource */
  readonly conditionalCreate?: boolean;
}

/** The check a response to an allowed read must pass before its body reaches the client. */
export type ResponseRequirement = ResponseCheck;
/** One way a response may pass: in the patient's compartment, matching constraints, or both. */
export type ResponseAlternative = ResponseCheck['anyOf'][number];

/** The scope step's answer. */
export type ScopeVerdict =
  | {
      readonly allow: true;
      readonly detail: string;
      readonly response?: ResponseRequirement;
      /** an `$operation`: only an AccessPolicy linked to this Operation id may then allow */
      readonly operationLink?: string;
    }
  | { readonly allow: false; readonly reason: string };

const INTERACTION_PERMS: Readonly<Record<string, readonly number[]>> = {
  read: [PERM.r],
  vread: [PERM.r],
  'history-instance': [PERM.r],
  search: [PERM.s],
  'search-post': [PERM.s],
  'history-type': [PERM.s],
  'compartment-search': [PERM.s],
  create: [PERM.c],
  update: [PERM.u],
  patch: [PERM.u],
  delete: [PERM.d],
  // SMART 2.2: a conditional interaction is also a search.
  'conditional-update': [PERM.u, PERM.s],
  'conditional-patch': [PERM.u, PERM.s],
  'conditional-delete': [PERM.d, PERM.s],
};
const LETTER: Readonly<Record<number, string>> = { 1: 'c', 2: 'r', 4: 'u', 8: 'd', 16: 's' };
const WORD: Readonly<Record<number, string>> = {
  1: 'create',
  2: 'read',
  4: 'update',
  8: 'delete',
  16: 'search',
};

/**
 * The SMART scope step of a decision (DESIGN §13; Aidbox 2411+ "scope check" before the Access
 * Policies): does the token's grant cover this FHIR interaction, and how must the request stay
 * inside the patient compartment and the v2 constraints? Pure; a batch/transaction entry is
 * checked as a request of its own.
 */
export function checkScopes(grant: SmartGrant, request: SmartRequest): ScopeVerdict {
  const { target } = request;
  if (target === undefined) {
    if (!request.underFhirBase) return { allow: true, detail: 'not a FHIR interaction: scopes do not apply' };
    return deny(request, 'it is no FHIR interaction SMART scopes can grant (system-level search or history)');
  }
  if (target.interaction === 'capabilities')
    return { allow: true, detail: 'the capability statement needs no scope' };
  // A batch/transaction is checked entry by entry (checkBundleScopes); one reaching this point
  // (a Bundle nested in a Bundle) is not.
  if (target.interaction === 'transaction')
    return deny(
      request,
      'a Bundle is allowed only when each of its entries is checked (nested Bundles are not)',
    );
  const perms = INTERACTION_PERMS[target.interaction];
  const type = target.resourceType;
  if (target.interaction === 'operation' && type !== undefined)
    return checkOperation(grant, request, target, type);
  if (perms === undefined || type === undefined)
    return deny(request, `${target.id} is an operation SMART resource scopes do not grant`);
  const details: string[] = [];
  let response: ResponseRequirement | undefined;
  for (const perm of perms) {
    const scopes = grant.scopesFor(type, perm);
    if (scopes.length === 0) return deny(request, missing(grant, type, perm));
    const verdict = checkPerm(grant, request, target, type, perm, scopes);
    if (!verdict.allow) return verdict;
    details.push(verdict.detail);
    response ??= verdict.response;
  }
  const detail = details.join('; ');
  return response ? { allow: true, detail, response } : { allow: true, detail };
}

function checkPerm(
  grant: SmartGrant,
  request: SmartRequest,
  target: SmartTarget,
  type: string,
  perm: number,
  scopes: readonly ResourceScope[],
): ScopeVerdict {
  const free = scopes.find((s) => !restricted(s, type));
  if (free) return { allow: true, detail: `${LETTER[perm]} on ${type} granted by ${free.text}` };
  const { interaction } = target;
  const searchLike =
    perm === PERM.s || interaction === 'conditional-delete' || interaction === 'compartment-search';
  const problems: string[] = [];
  if (searchLike) {
    // Servers read only _since/_at/_count on a history: a patient parameter there would be ignored.
    if (interaction === 'history-type')
      return deny(
        request,
        `a type history cannot be confined to the scopes (${scopes[0]?.text}); servers ignore search parameters there`,
      );
    if (interaction === 'search-post' && !request.bodyParamsSeen)
      return deny(
        request,
        `its search parameters travel in the body, where they cannot be confined to the scopes (${scopes[0]?.text}); search with GET`,
      );
    for (const scope of scopes) {
      const problem = searchNotConfined(scope, type, request.params, grant.patient, target.compartment?.id);
      if (!problem)
        return { allow: true, detail: `${LETTER[perm]} on ${type} granted by ${scope.text}, confined` };
      problems.push(problem);
    }
    return deny(request, problems[0] as string);
  }
  if (perm === PERM.c || interaction === 'conditional-update')
    return checkSubmitted(grant, request, type, scopes);
  if (perm === PERM.r) return checkRead(grant, request, target, type, scopes);
  // update / patch / delete by id, and conditional patch.
  if (type === 'Patient' && target.resourceId !== undefined && interaction !== 'update') {
    const own = scopes.find(
      (s) => s.constraints.length === 0 && grant.patient?.ids.includes(target.resourceId as string),
    );
    if (own)
      return { allow: true, detail: `${LETTER[perm]} on ${grant.patient?.label} granted by ${own.text}` };
  }
  if (type === 'Patient' && interaction === 'update') return checkSubmitted(grant, request, type, scopes);
  return deny(
    request,
    `under ${scopes[0]?.text} the resource it changes cannot be checked first; use a conditional ${WORD[perm]} confined to the scope (e.g. ${type}?_id=${target.resourceId ?? '…'}&${confinementHint(grant, scopes[0] as ResourceScope)})`,
  );
}

/**
 * DESIGN §13: an `$operation` is not covered by resource scopes; it passes the scope step only
 * when a scope grants read or search on its type — confined to the patient under `patient/`
 * scopes (`Patient/<ctx>/$everything`, or type-level with a compartment parameter) — and then
 * only a policy linked to the Operation may allow it.
 */
function checkOperation(
  grant: SmartGrant,
  request: SmartRequest,
  target: SmartTarget,
  type: string,
): ScopeVerdict {
  const scopes = [...grant.scopesFor(type, PERM.s), ...grant.scopesFor(type, PERM.r)];
  if (scopes.length === 0)
    return deny(request, missing(grant, type, PERM.r).replace('it needs', `${target.id} needs`));
  const link = { operationLink: target.id };
  const free = scopes.find((s) => !restricted(s, type));
  if (free) return { allow: true, detail: `${target.id} on ${type} within ${free.text}`, ...link };
  const instance = target.compartment?.id ?? (type === 'Patient' ? target.resourceId : undefined);
  const problems: string[] = [];
  for (const scope of scopes) {
    const problem =
      target.resourceId !== undefined && instance === undefined
        ? `an instance operation on a ${type} cannot be confined to ${scope.text}`
        : searchNotConfined(scope, type, request.params, grant.patient, instance);
    if (!problem)
      return { allow: true, detail: `${target.id} on ${type} within ${scope.text}, confined`, ...link };
    problems.push(problem);
  }
  return deny(request, problems[0] as string);
}

/** A read by id: the Patient in context itself, or the upstream's response checked. */
function checkRead(
  grant: SmartGrant,
  request: SmartRequest,
  target: SmartTarget,
  type: string,
  scopes: readonly ResourceScope[],
): ScopeVerdict {
  const own = scopes.find(
    (s) =>
      s.constraints.length === 0 &&
      type === 'Patient' &&
      grant.patient?.ids.includes(target.resourceId ?? ''),
  );
  if (own) return { allow: true, detail: `r on ${grant.patient?.label} granted by ${own.text}` };
  const anyOf = alternatives(grant, type, scopes);
  if (anyOf.length === 0)
    return deny(
      request,
      `the token has ${scopes[0]?.text} but names no patient (context.patient or patient)`,
    );
  if (!request.canCheckResponse)
    return deny(
      request,
      `under ${scopes.map((s) => s.text).join(' ')} a read by id is allowed only when the gateway can check the response (proxy mode); search with ${confinementHint(grant, scopes[0] as ResourceScope)}&_id=${target.resourceId ?? '…'} instead`,
    );
  return {
    allow: true,
    detail: `r on ${type} granted by ${scopes.map((s) => s.text).join(' or ')}, if the response is in scope`,
    response: { resourceType: type, anyOf },
  };
}

/** A create or (conditional) update: the submitted resource must be in scope. */
function checkSubmitted(
  grant: SmartGrant,
  request: SmartRequest,
  type: string,
  scopes: readonly ResourceScope[],
): ScopeVerdict {
  const body = request.body;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body))
    return deny(
      request,
      `under ${scopes[0]?.text} the submitted resource must be checked, and the body is unavailable (${request.bodyUnavailable ?? 'no JSON resource'})`,
    );
  const resource = body as Record<string, unknown>;
  if (resource.resourceType !== type)
    return deny(request, `the body is a ${String(resource.resourceType).slice(0, 64)}, not a ${type}`);
  const problems: string[] = [];
  for (const scope of scopes) {
    const needsPatient = scope.level === 'patient' && isCompartmentType(type);
    if (needsPatient && !(grant.patient && inPatientCompartment(resource, grant.patient))) {
      problems.push(
        grant.patient
          ? `the ${type} must reference ${grant.patient.label} through a Patient-compartment element (${scope.text})`
          : `the token has ${scope.text} but names no patient`,
      );
      continue;
    }
    if (!matchesConstraints(resource, scope.constraints)) {
      problems.push(`the ${type} does not match ${scope.text}`);
      continue;
    }
    const detail = `submitted ${type} is within ${scope.text}`;
    if (!request.conditionalCreate || request.target?.interaction !== 'create')
      return { allow: true, detail };
    // A conditional create that matches answers with the existing resource, which may be
    // another patient's: it is checked like a read by id, or refused when it cannot be.
    if (!request.canCheckResponse)
      return deny(
        request,
        `a conditional create under ${scope.text} answers with a stored resource, which only proxy mode can check`,
      );
    return {
      allow: true,
      detail: `${detail}; the answer is checked`,
      response: { resourceType: type, anyOf: alternatives(grant, type, scopes) },
    };
  }
  return deny(request, problems[0] as string);
}

/** The ways a resource of `type` may be within `scopes` (a response check's alternatives). */
function alternatives(
  grant: SmartGrant,
  type: string,
  scopes: readonly ResourceScope[],
): ResponseAlternative[] {
  const anyOf: ResponseAlternative[] = [];
  for (const scope of scopes) {
    const needsPatient = scope.level === 'patient' && isCompartmentType(type);
    if (needsPatient && !grant.patient) continue;
    // Copies: the wire shape is mutable, the grant is frozen and shared.
    const constraints = scope.constraints.map(({ param, value }) => ({ param, value }));
    anyOf.push(
      needsPatient && grant.patient
        ? { patient: { ids: [...grant.patient.ids], urls: [...grant.patient.urls] }, constraints }
        : { constraints },
    );
  }
  return anyOf;
}

function restricted(scope: ResourceScope, type: string): boolean {
  return scope.constraints.length > 0 || (scope.level === 'patient' && isCompartmentType(type));
}

function confinementHint(grant: SmartGrant, scope: ResourceScope): string {
  const parts = scope.constraints.map((c) => `${c.param}=${c.value}`);
  if (scope.level === 'patient' && grant.patient)
    parts.unshift(`patient=${grant.patient.ids[0] ?? grant.patient.label}`);
  return parts.join('&');
}

function missing(grant: SmartGrant, type: string, perm: number): string {
  const letter = LETTER[perm] as string;
  return `it needs ${WORD[perm]} (${letter}) on ${type}, as patient/${type}.${letter}, user/${type}.${letter} or system/${type}.${letter} grant; the token has ${grant.granted}`;
}

function deny(request: SmartRequest, why: string): ScopeVerdict {
  return { allow: false, reason: `SMART scopes do not allow ${request.what}: ${why}` };
}
