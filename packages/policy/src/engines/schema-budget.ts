/**
 * DESIGN §10 "bounded cost" for json-schema: ajv has no limit of its own, and a pasted schema can
 * cost without end (`$ref` recursion through `anyOf` branches is exponential in the body's depth,
 * `additionalProperties` applies a subschema to every key of a huge map). Every subschema
 * application passes through the `authzKnown` keyword (schema-known.ts), which charges one step
 * plus the size of the list or map it iterates; past {@link SCHEMA_STEP_BUDGET} the evaluation
 * stops and the rule is false (fail closed). Evaluation is synchronous, so one counter serves.
 */
export const SCHEMA_STEP_BUDGET = 20_000;

/** Thrown when one evaluation of a schema exceeds its budget: the rule evaluates false. */
export class SchemaBudgetError extends Error {
  readonly code = 'ERR_SCHEMA_BUDGET';
  constructor() {
    super(
      `evaluating the schema took more than ${SCHEMA_STEP_BUDGET} steps (subschema applications plus items and keys iterated): stopped, the rule does not allow`,
    );
    this.name = 'SchemaBudgetError';
  }
}

let remaining = SCHEMA_STEP_BUDGET;

/** Starts the budget of one evaluation. */
export function resetSchemaBudget(): void {
  remaining = SCHEMA_STEP_BUDGET;
}

/** Steps the last evaluation spent (tests and benches size the budget with it). */
export function spentSchemaSteps(): number {
  return SCHEMA_STEP_BUDGET - remaining;
}

/** Charges one subschema application over a value of `size` items or keys. */
export function chargeSchemaStep(size: number): void {
  remaining -= 1 + size;
  if (remaining < 0) throw new SchemaBudgetError();
}
