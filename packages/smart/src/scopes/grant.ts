import { ScopeError } from '../errors.js';
import { searchParam } from '../fhir/definitions.js';
import { PERM, PERM_LETTERS, parseScopes, type ResourceScope } from './parse.js';
import { type PatientContext, patientContextOf } from './patient.js';

/** Search parameter types a scope constraint may use: those a resource can be matched against. */
export const CONSTRAINT_PARAM_TYPES: ReadonlySet<string> = new Set(['token', 'reference', 'string', 'uri']);

/**
 * What a token's SMART scopes grant, compiled once per verified token: "which of my scopes give
 * permission `perm` on `type`?" is a map lookup, not a parse.
 */
export interface SmartGrant {
  /** every resource scope of the token, as granted */
  readonly scopes: readonly ResourceScope[];
  /** the token's resource scopes as one string, for reasons ("the token has …") */
  readonly granted: string;
  /** the patient in context (`context.patient`, else `patient`), when the token names one */
  readonly patient: PatientContext | undefined;
  /** the scopes that give `perm` (one {@link PERM} bit) on resources of `type`; [] when none */
  scopesFor(type: string, perm: number): readonly ResourceScope[];
}

const NONE: readonly ResourceScope[] = Object.freeze([]);

/**
 * Compiles the SMART scopes of a verified token (its JWT claims or introspection response):
 * `scope` parsed (SMART 2.2 grammar, v1 and v2), each v2 constraint checked against the R4
 * search parameters of its type, the patient context read. Throws {@link ScopeError} /
 * `SmartError` (a malformed patient context) when the token must be refused (401).
 *
 * @example
 * const grant = compileGrant({ scope: 'openid patient/Observation.rs', context: { patient: 'pt1' } });
 * grant.scopesFor('Observation', PERM.s) // [patient/Observation.rs]
 */
export function compileGrant(claims: Readonly<Record<string, unknown>>): SmartGrant {
  const scopes = parseScopes(claims.scope);
  for (const scope of scopes) checkConstraints(scope);
  const patient = patientContextOf(claims);
  const byKey = new Map<string, readonly ResourceScope[]>();
  return Object.freeze({
    scopes: Object.freeze(scopes),
    granted: scopes.length === 0 ? '(no SMART resource scopes)' : scopes.map((s) => s.text).join(' '),
    patient,
    scopesFor(type: string, perm: number): readonly ResourceScope[] {
      const key = `${type}.${perm}`;
      let found = byKey.get(key);
      if (found === undefined) {
        const matching = scopes.filter((s) => (s.perms & perm) !== 0 && (s.type === type || s.type === '*'));
        found = matching.length === 0 ? NONE : Object.freeze(matching);
        // Bounded by the types a token is used on; a flood of invented types stops being remembered.
        if (byKey.size < 512) byKey.set(key, found);
      }
      return found;
    },
  });
}

/** A v2 constraint must name an R4 search parameter of its type that a resource can be matched on. */
function checkConstraints(scope: ResourceScope): void {
  for (const { param } of scope.constraints) {
    const definition = searchParam(scope.type, param);
    if (!definition)
      throw new ScopeError(
        `scope ${JSON.stringify(scope.text)}: ${param} is not an R4 search parameter of ${scope.type}`,
        scope.text,
      );
    if (!CONSTRAINT_PARAM_TYPES.has(definition.type))
      throw new ScopeError(
        `scope ${JSON.stringify(scope.text)}: ${param} is a ${definition.type} parameter; this gateway enforces token, reference, string and uri parameters in scopes`,
        scope.text,
      );
  }
}

/** `patient/Observation.r`: the example scope named in a reason when nothing grants `perm`. */
export function exampleScope(level: string, type: string, perm: number): string {
  return `${level}/${type}.${PERM_LETTERS.find((l) => PERM[l] === perm) ?? ''}`;
}
