import type { ExplainEntry } from '@authz/protocol';
import { Ajv, type AnySchema, type ErrorObject, type ValidateFunction } from 'ajv';
import { BODY_UNAVAILABLE, type RequestContext } from '../context/build.js';
import { partialityOf } from '../context/partial.js';
import { childPath, type IssueCollector } from '../errors.js';
import { compileSafeRegex } from '../regex/safe-regex.js';
import { schemaConstraints } from '../set/schema-constraints.js';
import type { CompiledRule } from './rule.js';
import { resetSchemaBudget } from './schema-budget.js';
import { constDataKeyword } from './schema-data.js';
import { instrumentSchema, knownKeyword } from './schema-known.js';
import { normalizeSchema, pointerToPath, schemaKey } from './schema-normalize.js';
import { schemaMayRead } from './schema-reads.js';
import { useLinearUniqueItems } from './unique-items.js';

// Schema regexes (`pattern`, `patternProperties`) run on the same bounded-time engine as matcho's.
const regExp = Object.assign(
  (pattern: string) => {
    const regex = compileSafeRegex(pattern);
    return { test: (s: string) => regex.test(s), toString: () => `/${pattern}/` };
  },
  { code: 'policyRegExp' },
);

function newAjv(allErrors: boolean): Ajv {
  // strict off: Aidbox schemas are written loosely (no `type` beside `properties`, and so on).
  // addUsedSchema off: two policies may reuse one `$id` without colliding.
  const ajv = new Ajv({
    allErrors,
    strict: false,
    logger: false,
    addUsedSchema: false,
    unicodeRegExp: false,
    code: { regExp },
  });
  // DESIGN §10 bounded cost: uniqueItems in one pass, not ajv's pairwise comparison.
  useLinearUniqueItems(ajv);
  // DESIGN §10: unknown values never allow, and every evaluation has a budget (schema-known.ts).
  return ajv.addKeyword(knownKeyword).addKeyword(constDataKeyword);
}

/** Distinct schemas compiled before the instances are replaced, bounding ajv's own caches. */
const MAX_SHARED_VALIDATORS = 20_000;
let fastAjv = newAjv(false);
let explainAjv = newAjv(true);
interface SharedValidator {
  fast?: ValidateFunction;
  explain?: ValidateFunction;
}
// Identical schemas (many policies differ only in links) share one compiled validator.
let shared = new Map<string, SharedValidator>();

function sharedFor(key: string): SharedValidator {
  let entry = shared.get(key);
  if (entry === undefined) {
    if (shared.size >= MAX_SHARED_VALIDATORS) {
      shared = new Map();
      fastAjv = newAjv(false);
      explainAjv = newAjv(true);
    }
    entry = {};
    shared.set(key, entry);
  }
  return entry;
}

/**
 * Compiles a `json-schema` rule: draft-07 via ajv, `constant` accepted as an alias of `const`.
 * The schema is checked against the meta-schema now (issues at `schema.properties.x…`); code
 * generation happens now, or at first evaluation when `lazy` (a deferred failure evaluates false).
 */
export function compileJsonSchema(
  schema: unknown,
  path: string,
  issues: IssueCollector,
  lazy: boolean,
): CompiledRule {
  const at = childPath(path, 'schema');
  const normalized = normalizeSchema(schema, at, issues);
  if (normalized === undefined) return failing();
  if (!fastAjv.validateSchema(normalized as AnySchema)) {
    for (const err of fastAjv.errors ?? [])
      issues.add(pointerToPath(at, err.instancePath), err.message ?? 'invalid');
    return failing();
  }
  const entry = sharedFor(schemaKey(normalized));
  let instrumented: AnySchema | undefined;
  const prepared = (): AnySchema => {
    instrumented ??= instrumentSchema(normalized) as AnySchema;
    return instrumented;
  };
  const fast = (): ValidateFunction => {
    entry.fast ??= fastAjv.compile(prepared());
    return entry.fast;
  };
  if (!lazy) {
    try {
      fast();
    } catch (err) {
      issues.add(at, (err as Error).message);
      return failing();
    }
  }
  // DESIGN §10: a schema that may read the body (or params) cannot allow a request whose body
  // (or whose parameters) it cannot see. `blind` says why, or `undefined` when it can see.
  const blind = blindness(schemaMayRead(normalized, BODY_KEYS), schemaMayRead(normalized, PARAMS_KEYS));
  // Throws (an unknown under `not`, the budget spent): callers fail closed.
  const evaluate = (ctx: RequestContext): boolean => {
    if (blind(ctx) !== undefined) return false;
    const validate = fast();
    resetSchemaBudget();
    return validate(ctx) === true;
  };
  return {
    engine: 'json-schema',
    constraints: schemaConstraints(normalized),
    evaluate,
    explain(ctx, policy): ExplainEntry {
      fast();
      const why = blind(ctx);
      if (why !== undefined) return { policy, engine: 'json-schema', result: false, ...why };
      // The verdict is the evaluation's; the explaining validator (all errors) only words it.
      if (evaluate(ctx)) return { policy, engine: 'json-schema', result: true };
      entry.explain ??= explainAjv.compile(prepared());
      resetSchemaBudget();
      entry.explain(ctx);
      const errors = (entry.explain.errors ?? []).map(describeError);
      const first = errors[0];
      return {
        policy,
        engine: 'json-schema',
        result: false,
        detail: first
          ? `${first.instancePath || '(request)'} ${first.message}`
          : 'the request does not match the schema',
        path: first ? pointerToPath('', first.instancePath) : undefined,
        errors,
      };
    },
  };
}

/** ajv's error without anything taken from the request (ajv is not verbose: no `data`). */
function describeError(err: ErrorObject): {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: unknown;
  message: string;
} {
  return {
    instancePath: err.instancePath,
    schemaPath: err.schemaPath,
    keyword: err.keyword,
    params: err.params,
    message: err.message ?? 'is invalid',
  };
}

const BODY_KEYS = ['body', 'resource'];
const PARAMS_KEYS = ['params'];

/** An explain entry's words for a schema that cannot see what it reads. */
type Blind = { detail: string; path: string } | undefined;

/** Whether a schema reading the body and/or params is blind on a request (DESIGN §10). */
function blindness(readsBody: boolean, readsParams: boolean): (ctx: RequestContext) => Blind {
  const body = (ctx: RequestContext): Blind => (ctx.body === BODY_UNAVAILABLE ? BODY_BLIND : undefined);
  const params = (ctx: RequestContext): Blind => {
    const partial = partialityOf(ctx.params);
    return partial === undefined
      ? undefined
      : { detail: `the schema reads params, and ${partial.reason}`, path: 'params' };
  };
  if (readsBody && readsParams) return (ctx) => body(ctx) ?? params(ctx);
  if (readsBody) return body;
  return readsParams ? params : () => undefined;
}

const BODY_BLIND = {
  detail: 'the schema reads body, and the request body is unavailable to policies (body_unavailable)',
  path: 'body',
};

function failing(): CompiledRule {
  return {
    engine: 'json-schema',
    constraints: {},
    evaluate: () => false,
    explain: (_ctx, policy) => ({
      policy,
      engine: 'json-schema',
      result: false,
      detail: 'the schema is invalid',
    }),
  };
}
