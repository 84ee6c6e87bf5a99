import type { Pin, Scalar } from '../engines/rule.js';
import type { CompiledPolicy, PolicyLinks } from '../policy.js';

/** Table of the `roleName` dimension. Pin tables are keyed by `pinKey` (a JSON array), never these. */
export const ROLE_TABLE = 'role';
/** Table of exact URIs. */
export const URI_TABLE = 'uri';
/** Table of URI prefixes (the literal start of a `^`-anchored regex). */
export const PREFIX_TABLE = 'uri-prefix';

/**
 * Where a policy can be filed in the candidate index, derived once from its links, `roleName` and
 * constraints. Linked policies are filed under every linked id. An unlinked one has filing
 * options, each a necessary condition — a role held, a URI or prefix, a pinned path's value — made
 * of cells (a table and a value); it is filed under every cell of its cheapest option (tie: the
 * first), or unindexed when it has none. An option without cells cannot hold (an empty
 * intersection): the policy can never allow. Flat arrays, so a plan (and each index entry) costs
 * a few allocations, not one per cell.
 */
export interface FilingPlan {
  readonly links?: PolicyLinks;
  /** Table of each cell. */
  readonly tables: readonly string[];
  /** Value of each cell. */
  readonly values: readonly Scalar[];
  /** Option `o` is cells `ends[o - 1] ?? 0` to `ends[o]` (exclusive). */
  readonly ends: readonly number[];
  /** Per option: its pin when it is one (every cell is then in that pin's table). */
  readonly pins: readonly (Pin | undefined)[];
}

const plans = new WeakMap<CompiledPolicy, FilingPlan>();
const NO_CELLS: readonly never[] = [];

/**
 * The filing plan of a policy, computed on first use and remembered for that compiled policy: a
 * rebuilt or updated index never walks constraints again (issue 6: the full rebuild on every
 * configuration change spent most of its time re-deriving these).
 */
export function planOf(policy: CompiledPolicy): FilingPlan {
  let plan = plans.get(policy);
  if (plan === undefined) {
    plan = derivePlan(policy);
    plans.set(policy, plan);
  }
  return plan;
}

function derivePlan({ links, roleName, constraints: c }: CompiledPolicy): FilingPlan {
  if (links !== undefined)
    return { links, tables: NO_CELLS, values: NO_CELLS, ends: NO_CELLS, pins: NO_CELLS };
  const plan = {
    tables: [] as string[],
    values: [] as Scalar[],
    ends: [] as number[],
    pins: [] as (Pin | undefined)[],
  };
  const cell = (table: string, value: Scalar) => {
    plan.tables.push(table);
    plan.values.push(value);
  };
  const end = (pin?: Pin) => {
    plan.ends.push(plan.tables.length);
    plan.pins.push(pin);
  };
  // Option order is the tie-break: role, then URI, then pins in the order the rule reported them.
  if (roleName !== undefined) {
    cell(ROLE_TABLE, roleName);
    end();
  }
  if (c?.uris) {
    for (const value of c.uris.exact) cell(URI_TABLE, value);
    for (const value of c.uris.prefixes) cell(PREFIX_TABLE, value);
    end();
  }
  for (const pin of c?.pins?.values() ?? []) {
    for (const value of pin.values) cell(pin.key, value);
    end(pin);
  }
  return plan;
}
