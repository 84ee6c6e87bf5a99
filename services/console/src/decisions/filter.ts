import type { DecisionEvent } from '../api/types.js';

/** The filters of the decisions table, as typed in its form. Empty means "any". */
export interface DecisionFilter {
  /** comma-separated status codes, e.g. `401,403` */
  status: string;
  policy: string;
  user: string;
  allow: '' | 'true' | 'false';
}

/** No filter at all. */
export const NO_FILTER: DecisionFilter = { status: '', policy: '', user: '', allow: '' };

/** The query string of `GET /$decisions` for `filter` (server-side filtering), `''` when none. */
export function filterQuery(filter: DecisionFilter): string {
  const params = new URLSearchParams();
  const status = statusCodes(filter.status);
  if (status.length > 0) params.set('status', status.join(','));
  if (filter.policy.trim()) params.set('policy', filter.policy.trim());
  if (filter.user.trim()) params.set('user', filter.user.trim());
  if (filter.allow) params.set('allow', filter.allow);
  const query = params.toString();
  return query ? `?${query}` : '';
}

/**
 * Whether `event` passes `filter`, exactly as the server decides: used to trim rows received
 * before the filter changed.
 */
export function matchesFilter(event: DecisionEvent, filter: DecisionFilter): boolean {
  const status = statusCodes(filter.status);
  if (status.length > 0 && !status.includes(event.status)) return false;
  if (filter.allow && String(event.allow) !== filter.allow) return false;
  if (filter.policy.trim() && event.policy !== filter.policy.trim()) return false;
  if (filter.user.trim() && event.user !== filter.user.trim()) return false;
  return true;
}

/** The integers of a comma-separated list; anything else is ignored. */
export function statusCodes(text: string): number[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^\d{3}$/.test(s))
    .map(Number);
}
