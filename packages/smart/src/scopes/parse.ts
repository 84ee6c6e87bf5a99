import { ScopeError } from '../errors.js';

/** Who a scope speaks for (SMART App Launch 2.2 §Scopes: `patient/`, `user/`, `system/`). */
export type ScopeLevel = 'patient' | 'user' | 'system';

/** Permission bits, in the spec's `cruds` order. */
export const PERM = { c: 1, r: 2, u: 4, d: 8, s: 16 } as const;
/** One permission letter of `cruds`. */
export type PermLetter = keyof typeof PERM;
/** Every permission letter, in order. */
export const PERM_LETTERS = ['c', 'r', 'u', 'd', 's'] as const;

/** One `param=value` of a v2 scope's query suffix. */
export interface ScopeConstraint {
  readonly param: string;
  readonly value: string;
}

/** One SMART resource scope, parsed. */
export interface ResourceScope {
  /** the scope as granted, for reasons ("the token has patient/Patient.rs") */
  readonly text: string;
  readonly level: ScopeLevel;
  /** a resource type, or `*` */
  readonly type: string;
  /** bitmask of {@link PERM} */
  readonly perms: number;
  /** v2 query suffix (`?category=…`), all of which must hold; empty when none */
  readonly constraints: readonly ScopeConstraint[];
}

// SMART 2.2 railroad: (patient|user|system) / (Type|*) . [c][r][u][d][s] [? param=value(&…)].
const RESOURCE_SCOPE = /^(patient|user|system)\/([^.?\s]*)\.([^?\s]*)(?:\?(.*))?$/;
const LEVEL_PREFIX = /^(patient|user|system)\//;
const TYPE = /^(\*|[A-Z][A-Za-z0-9]{0,63})$/;
// A plain search parameter name: modifiers (`code:in`), chains (`patient.birthdate`) and
// `_filter` are "experimental" in SMART 2.2; the result-shaping ones change what a search returns.
const PARAM = /^[A-Za-z][A-Za-z0-9_-]{0,63}$|^_id$/;
const V1_PERMS: Readonly<Record<string, number>> = {
  read: PERM.r | PERM.s,
  write: PERM.c | PERM.u | PERM.d,
  '*': 31,
};
/** Most resource scopes one token may carry; beyond that the token is refused, not truncated. */
export const MAX_RESOURCE_SCOPES = 256;
/** Longest `scope` string read. */
export const MAX_SCOPE_CHARS = 16_384;

/**
 * Splits a `scope` claim (space-separated, RFC 6749 §3.3) and parses its SMART resource scopes.
 * Other scopes (`openid`, `launch/patient`, `fhirUser`, `offline_access`) are not resource scopes
 * and are skipped. Throws {@link ScopeError} for a resource scope that does not parse: a token
 * carrying one is refused whole (Aidbox: "A scope that violates these rules makes Aidbox reject
 * the whole token").
 *
 * @example parseScopes('openid patient/Observation.rs?category=laboratory patient/*.read')
 */
export function parseScopes(scope: unknown): ResourceScope[] {
  // Some IdPs emit `scope` as a JSON list (RFC 8693 `scp` style); both mean the same set.
  if (scope === undefined || scope === null) return [];
  const text = Array.isArray(scope) ? scope.join(' ') : scope;
  if (typeof text !== 'string')
    throw new ScopeError("the token's scope claim is not a string of space-separated scopes");
  if (text.length > MAX_SCOPE_CHARS)
    throw new ScopeError(`the token's scope claim is longer than ${MAX_SCOPE_CHARS} characters`);
  const scopes: ResourceScope[] = [];
  for (const word of text.split(/[ \t\n]+/)) {
    if (!LEVEL_PREFIX.test(word)) continue;
    scopes.push(parseResourceScope(word));
    if (scopes.length > MAX_RESOURCE_SCOPES)
      throw new ScopeError(`the token carries more than ${MAX_RESOURCE_SCOPES} SMART resource scopes`);
  }
  return scopes;
}

/** Parses one `(patient|user|system)/…` scope; throws {@link ScopeError} naming what is wrong. */
export function parseResourceScope(text: string): ResourceScope {
  const m = RESOURCE_SCOPE.exec(text);
  const shown = JSON.stringify(text.slice(0, 200));
  if (!m) throw new ScopeError(`scope ${shown} is not (patient|user|system)/<Type|*>.<permissions>`, text);
  const [, level, type, permText, query] = m as unknown as [string, ScopeLevel, string, string, string?];
  if (!TYPE.test(type)) throw new ScopeError(`scope ${shown} names no FHIR resource type (or *)`, text);
  const v1 = V1_PERMS[permText];
  const perms = v1 ?? parseV2Perms(permText);
  if (perms === 0)
    throw new ScopeError(
      `scope ${shown} has permissions ".${permText}": use read, write, * (v1) or an in-order subset of cruds (v2)`,
      text,
    );
  if (query === undefined) return { text, level, type, perms, constraints: [] };
  // Aidbox and SMART 2.2: search parameters only on v2, non-system, typed scopes.
  if (level === 'system')
    throw new ScopeError(`scope ${shown}: search parameters are not allowed on system/ scopes`, text);
  if (type === '*')
    throw new ScopeError(
      `scope ${shown}: search parameters are not allowed on a wildcard resource type`,
      text,
    );
  if (v1 !== undefined)
    throw new ScopeError(
      `scope ${shown}: search parameters are not allowed with v1 permissions (${permText})`,
      text,
    );
  return { text, level, type, perms, constraints: parseConstraints(query, shown, text) };
}

/** v2 permissions: a non-empty, in-order subset of `cruds`; 0 when not one. */
function parseV2Perms(text: string): number {
  let perms = 0;
  let at = 0;
  for (const ch of text) {
    const index = PERM_LETTERS.indexOf(ch as PermLetter, at);
    if (index < 0) return 0; // unknown, repeated or out of order (`.dus` is "not a defined scope")
    perms |= PERM[ch as PermLetter];
    at = index + 1;
  }
  return perms;
}

function parseConstraints(query: string, shown: string, text: string): ScopeConstraint[] {
  const constraints: ScopeConstraint[] = [];
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const param = eq < 0 ? pair : pair.slice(0, eq);
    if (!PARAM.test(param) || (param.startsWith('_') && param !== '_id'))
      throw new ScopeError(
        `scope ${shown}: "${param.slice(0, 64)}" is not a plain search parameter name`,
        text,
      );
    let value: string;
    try {
      value = decodeURIComponent(eq < 0 ? '' : pair.slice(eq + 1));
    } catch {
      throw new ScopeError(`scope ${shown}: the value of ${param} is not valid percent-encoding`, text);
    }
    if (value === '') throw new ScopeError(`scope ${shown}: ${param} has no value`, text);
    constraints.push({ param, value });
  }
  return constraints;
}

/** `rs`, `cud`: the letters of a permission mask. */
export function permLetters(perms: number): string {
  return PERM_LETTERS.filter((l) => (perms & PERM[l]) !== 0).join('');
}
