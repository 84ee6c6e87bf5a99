/**
 * Deepest nesting pruned. Deeper values are kept as they are, never dropped: a policy must not
 * evaluate a shortened context (DESIGN §10). Bodies deeper than MAX_JSON_DEPTH are refused before.
 */
const MAX_DEPTH = 128;

/**
 * Aidbox removes empty values — `""`, `[]`, `{}`, `null` — before policies see the request, so
 * `required` / `present?` mean "has a value". Returns `undefined` when `value` is empty after
 * pruning, `value` itself when nothing inside was empty (no copy on the hot path), else a pruned
 * copy. Inputs are never mutated.
 */
export function pruneEmpty(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return value;
  return Array.isArray(value)
    ? pruneArray(value, depth)
    : pruneObject(value as Record<string, unknown>, depth);
}

function pruneArray(list: unknown[], depth: number): unknown[] | undefined {
  let out: unknown[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const pruned = pruneEmpty(item, depth + 1);
    if ((pruned !== item || pruned === undefined) && out === undefined) out = list.slice(0, i);
    if (out !== undefined && pruned !== undefined) out.push(pruned);
  }
  const result = out ?? list;
  return result.length === 0 ? undefined : result;
}

function pruneObject(map: Record<string, unknown>, depth: number): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  let kept = 0;
  for (const key in map) {
    if (!Object.hasOwn(map, key)) continue;
    const item = map[key];
    // `__proto__` is dropped: copying it would set the copy's prototype.
    const pruned = key === '__proto__' ? undefined : pruneEmpty(item, depth + 1);
    if ((pruned !== item || pruned === undefined) && out === undefined) out = copyUntil(map, key);
    if (pruned === undefined) continue;
    kept++;
    if (out !== undefined) out[key] = pruned;
  }
  if (kept === 0) return undefined;
  return out ?? map;
}

function copyUntil(map: Record<string, unknown>, stop: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in map) {
    if (key === stop) break;
    if (Object.hasOwn(map, key)) out[key] = map[key];
  }
  return out;
}
