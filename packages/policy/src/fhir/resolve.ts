import { type FhirInteraction, OPERATION_ROUTES, type OperationRoute } from './routes.js';

/** The `operation` key of the request context (Aidbox: the matched Operation resource). */
export interface OperationRef {
  readonly resourceType: 'Operation';
  readonly id: string;
}

/** What a request is to a FHIR server: Aidbox's Operation for it and what it acts on. */
export interface ResolvedOperation {
  /** Aidbox Operation id (`FhirRead`, `Search`, `$validate`), case-sensitive. */
  readonly id: string;
  /** `{resourceType: 'Operation', id}`, shared per id and frozen: put it in the context as is. */
  readonly ref: OperationRef;
  readonly interaction: FhirInteraction;
  /** `fhir`: under the FHIR base; `aidbox`: an Aidbox-format route (no prefix). */
  readonly format: 'fhir' | 'aidbox';
  /** The resource type acted on; for a compartment search the type searched (`Observation`). */
  readonly resourceType?: string;
  /** The resource id of an instance-level interaction. */
  readonly resourceId?: string;
  /** The version of a vread. */
  readonly versionId?: string;
  /** The compartment of a compartment search or `$everything` (`{type: 'Patient', id}`). */
  readonly compartment?: { readonly type: string; readonly id: string };
  /** The operation name of a `$op` route (`$validate`). */
  readonly operationName?: string;
}

/** Options of {@link compileOperationResolver}. */
export interface OperationResolverOptions {
  /** Path of the FHIR API (`AUTHZ_FHIR_BASE`), default `/fhir`; no trailing slash. */
  fhirBase?: string;
}

/** Resolves requests to Aidbox Operations; compiled once, pure, allocation-light. */
export interface OperationResolver {
  /** The FHIR base it was compiled for. */
  readonly fhirBase: string;
  /**
   * The Operation of `method` (any case) + `path` (no query), or `undefined` when the request is
   * no FHIR interaction of DESIGN §12's table. `hasQuery`: the target had a non-empty query
   * (conditional update/patch/delete need one).
   */
  resolve(method: string, path: string, hasQuery: boolean): ResolvedOperation | undefined;
  /** {@link resolve} of an origin-form target (`/fhir/Patient?name=x`). */
  resolveTarget(method: string, target: string): ResolvedOperation | undefined;
}

const BASE = /^(\/[A-Za-z0-9._~-]+)+$/;
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** Longest table path, in segments: longer paths are no operation without a look. */
const MAX_SEGMENTS = 4;
const LITERAL = 0;
const TYPE = 1;
const ID = 2;
const VID = 3;
const OP = 4;

/** A table row compiled: what each segment must be, and where the row's captures are. */
interface CompiledRoute {
  readonly method: string;
  readonly needsQuery: boolean;
  readonly interaction: FhirInteraction;
  /** Per segment: LITERAL, TYPE, ID, VID or OP. */
  readonly kinds: readonly number[];
  readonly literals: readonly (string | undefined)[];
  readonly typeAt: number;
  readonly idAt: number;
  readonly vidAt: number;
  readonly opAt: number;
  /** A literal type (`Patient/{id}/$everything`) or operation name (`Observation/$lastn`). */
  readonly fixedType?: string;
  readonly fixedOp?: string;
  /** `Patient/{id}/…`: the id is the Patient compartment's. */
  readonly compartment: boolean;
  readonly fhirRef?: OperationRef;
  readonly aidboxRef?: OperationRef;
}

/** `{resourceType: 'Operation', id}` objects, one per id (bounded for `$op` names). */
const refs = new Map<string, OperationRef>();
const MAX_SHARED_REFS = 4096;

/** The shared, frozen context object of an Operation id. */
export function operationRef(id: string): OperationRef {
  let ref = refs.get(id);
  if (ref === undefined) {
    ref = Object.freeze({ resourceType: 'Operation', id });
    if (refs.size < MAX_SHARED_REFS) refs.set(id, ref);
  }
  return ref;
}

/**
 * Compiles DESIGN §12's Operation table (`OPERATION_ROUTES`) for one FHIR base. Routes are grouped
 * by segment count and tried in table order; each request costs one split and a few short regex
 * tests (≈0.2 µs).
 *
 * @example
 * const ops = compileOperationResolver({ fhirBase: '/fhir' });
 * ops.resolveTarget('GET', '/fhir/Patient/pt-1')?.id // 'FhirRead'
 * ops.resolveTarget('GET', '/Patient/pt-1')?.id      // 'Read' (Aidbox format)
 * @throws Error when `fhirBase` is not an absolute path without a trailing slash
 */
export function compileOperationResolver(options: OperationResolverOptions = {}): OperationResolver {
  const fhirBase = options.fhirBase ?? '/fhir';
  const problem = fhirBaseProblem(fhirBase);
  if (problem !== undefined) throw new Error(problem);
  const byLength: CompiledRoute[][] = Array.from({ length: MAX_SEGMENTS + 1 }, () => []);
  for (const route of OPERATION_ROUTES) {
    const compiled = compileRoute(route);
    (byLength[compiled.kinds.length] as CompiledRoute[]).push(compiled);
  }
  const base = fhirBase.length;
  // Reused per call: resolution is synchronous, so one array serves every request.
  const segments: string[] = [];

  const resolve = (method: string, path: string, hasQuery: boolean): ResolvedOperation | undefined => {
    const fhir = path.startsWith(fhirBase) && (path.length === base || path.charCodeAt(base) === 47);
    const start = fhir ? base : 0;
    // The root itself (`/fhir`, `/fhir/`, `/`) has no segments; any other empty segment is no route.
    if (path.length > start && path.charCodeAt(start) !== 47) return undefined;
    const count = path.length - start <= 1 ? 0 : splitSegments(path, start + 1, segments);
    if (count < 0) return undefined;
    const upper = METHODS.has(method) ? method : method.length <= 7 ? method.toUpperCase() : '';
    const routes = byLength[count] as CompiledRoute[];
    for (let r = 0; r < routes.length; r++) {
      const route = routes[r] as CompiledRoute;
      if (route.method !== upper && route.method !== '*') continue;
      if (route.needsQuery && !hasQuery) continue;
      if (matches(route, segments)) return resolved(route, fhir, segments);
    }
    return undefined;
  };

  return {
    fhirBase,
    resolve,
    resolveTarget(method, target) {
      const q = target.indexOf('?');
      if (q < 0) return resolve(method, target, false);
      return resolve(method, target.slice(0, q), q < target.length - 1);
    },
  };
}

/** Fills `out` with the `/`-separated segments of `path` from `from`; -1 beyond MAX_SEGMENTS. */
function splitSegments(path: string, from: number, out: string[]): number {
  let count = 0;
  let at = from;
  for (;;) {
    if (count === MAX_SEGMENTS) return -1;
    const slash = path.indexOf('/', at);
    out[count++] = slash < 0 ? path.slice(at) : path.slice(at, slash);
    if (slash < 0) return count;
    at = slash + 1;
  }
}

/** Why `fhirBase` cannot be a FHIR base (`AUTHZ_FHIR_BASE`), or `undefined` when it can. */
export function fhirBaseProblem(fhirBase: string): string | undefined {
  if (BASE.test(fhirBase) && !fhirBase.split('/').some((s) => s === '.' || s === '..')) return undefined;
  return `FHIR base ${JSON.stringify(fhirBase)} must be a path like /fhir (no trailing slash)`;
}

const KINDS: Record<string, number> = { '{type}': TYPE, '{id}': ID, '{vid}': VID, '{op}': OP };

function compileRoute(route: OperationRoute): CompiledRoute {
  const parts = route.path === '' ? [] : route.path.split('/');
  const kinds = parts.map((p) => KINDS[p] ?? LITERAL);
  const first = kinds[0] === LITERAL ? parts[0] : undefined;
  const opLiteral = parts.find((p, i) => kinds[i] === LITERAL && p.startsWith('$'));
  return {
    method: route.method,
    needsQuery: route.query === 'required',
    interaction: route.interaction,
    kinds,
    literals: parts.map((p, i) => (kinds[i] === LITERAL ? p : undefined)),
    typeAt: kinds.indexOf(TYPE),
    idAt: kinds.indexOf(ID),
    vidAt: kinds.indexOf(VID),
    opAt: kinds.indexOf(OP),
    fixedType: first !== undefined && /^[A-Z]/.test(first) ? first : undefined,
    fixedOp: opLiteral,
    compartment: route.path.startsWith('Patient/{id}/'),
    fhirRef: route.fhir === null ? undefined : operationRef(route.fhir),
    aidboxRef: route.aidbox === null ? undefined : operationRef(route.aidbox),
  };
}

function matches(route: CompiledRoute, segments: readonly string[]): boolean {
  const { kinds } = route;
  for (let i = 0; i < kinds.length; i++) {
    const s = segments[i] as string;
    switch (kinds[i]) {
      case LITERAL:
        if (s !== route.literals[i]) return false;
        break;
      case TYPE:
        if (!isType(s)) return false;
        break;
      case OP:
        if (!isOperationName(s)) return false;
        break;
      default:
        if (!isId(s)) return false;
    }
  }
  return true;
}

/** DESIGN §12: `{type}` must look like a FHIR type, `[A-Z][A-Za-z]+`; anything else has no operation. */
function isType(s: string): boolean {
  if (s.length < 2) return false;
  const c0 = s.charCodeAt(0);
  if (c0 < 65 || c0 > 90) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i) | 32; // ASCII lower-case
    if (c < 97 || c > 122) return false;
  }
  return true;
}

/** DESIGN §7: `[A-Za-z0-9\-.]{1,255}` (FHIR says 64; Aidbox accepts longer). */
function isId(s: string): boolean {
  if (s.length < 1 || s.length > 255) return false;
  for (let i = 0; i < s.length; i++) if (!isIdChar(s.charCodeAt(i))) return false;
  return true;
}

function isIdChar(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122) || c === 45 || c === 46;
}

/** A FHIR operation name: `$`, a letter, then letters, digits, `-` or `_` (64 at most). */
function isOperationName(s: string): boolean {
  if (s.length < 2 || s.length > 65 || s.charCodeAt(0) !== 36) return false;
  const c1 = s.charCodeAt(1) | 32;
  if (c1 < 97 || c1 > 122) return false;
  for (let i = 2; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 || !(isIdChar(c) || c === 95)) return false;
  }
  return true;
}

/** The resolution of a matched route, built in one object literal (one shape for every result). */
function resolved(route: CompiledRoute, fhir: boolean, segments: readonly string[]): ResolvedOperation {
  const ref = (fhir ? route.fhirRef : route.aidboxRef) ?? operationRef(segments[route.opAt] as string);
  const id = route.idAt < 0 ? undefined : segments[route.idAt];
  return {
    id: ref.id,
    ref,
    interaction: route.interaction,
    format: fhir ? 'fhir' : 'aidbox',
    // A compartment search acts on the type searched; Aidbox #17 still sees `params.resource/type:
    // Patient` (the context's route params are not these).
    resourceType: route.typeAt < 0 ? route.fixedType : segments[route.typeAt],
    resourceId: route.compartment ? undefined : id,
    versionId: route.vidAt < 0 ? undefined : segments[route.vidAt],
    compartment: route.compartment ? { type: 'Patient', id: id as string } : undefined,
    operationName: route.opAt < 0 ? route.fixedOp : segments[route.opAt],
  };
}
