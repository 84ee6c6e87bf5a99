import { ApiError } from '../http/errors.js';
import type { AuditDecision, AuditOutcome } from './balp.js';

/** `_count` when none is given, and its ceiling (DESIGN §14). */
export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;

/** A parsed `GET /AuditEvent` query: every condition must hold (FHIR: parameters AND). */
export interface AuditQuery {
  count: number;
  /** Inclusive bounds on the decision time, epoch ms. */
  from?: number;
  to?: number;
  /** Any of these outcomes (comma list = OR). */
  outcomes?: Set<AuditOutcome>;
  /** `User/<id>` or `Client/<id>`; any of them (comma list = OR). */
  agents?: Array<{ type: 'User' | 'Client'; id: string }>;
  /** AccessPolicy ids; any of them. */
  policies?: Set<string>;
  /** Continue below this stream sequence (the `next` link of a previous page). */
  before?: number;
}

const PARAMS = new Set(['_count', 'date', 'outcome', 'agent', 'policy', '_cursor', '_format']);
const OUTCOMES: ReadonlySet<string> = new Set(['0', '4', '8']);
/** FHIR dateTime: a year, month, day, or an instant with seconds and optional fraction and zone. */
const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * Parses the search parameters of `GET /AuditEvent`. Unknown parameters are a 400 rather than
 * ignored: a misspelt filter must not silently widen an audit query to everything.
 */
export function parseAuditQuery(params: URLSearchParams): AuditQuery {
  for (const name of params.keys()) {
    if (!PARAMS.has(name)) {
      throw bad(`unknown search parameter ${JSON.stringify(name)}; supported: ${[...PARAMS].join(', ')}`);
    }
  }
  const query: AuditQuery = { count: parseCount(params.getAll('_count')) };
  for (const value of params.getAll('date')) applyDate(query, value);
  const outcomes = list(params, 'outcome');
  if (outcomes) {
    for (const o of outcomes)
      if (!OUTCOMES.has(o)) throw bad(`outcome must be 0, 4 or 8, not ${JSON.stringify(o)}`);
    query.outcomes = new Set(outcomes as AuditOutcome[]);
  }
  const agents = list(params, 'agent');
  if (agents) {
    query.agents = agents.map((a) => {
      const m = /^(User|Client)\/([A-Za-z0-9\-.]{1,255})$/.exec(a);
      if (!m) throw bad(`agent must be User/<id> or Client/<id>, not ${JSON.stringify(a)}`);
      return { type: m[1] as 'User' | 'Client', id: m[2] as string };
    });
  }
  const policies = list(params, 'policy');
  if (policies) query.policies = new Set(policies.map((p) => p.replace(/^AccessPolicy\//, '')));
  const cursor = params.get('_cursor');
  if (cursor !== null) {
    const before = Number(cursor);
    if (!Number.isSafeInteger(before) || before < 1) throw bad('_cursor must be the value of a next link');
    query.before = before;
  }
  return query;
}

/** Whether one decision passes the query's filters (not its count or time bounds on the stream). */
export function matchesQuery(event: AuditDecision, outcome: AuditOutcome, query: AuditQuery): boolean {
  const time = Date.parse(event.time);
  if (query.from !== undefined && !(time >= query.from)) return false;
  if (query.to !== undefined && !(time <= query.to)) return false;
  if (query.outcomes && !query.outcomes.has(outcome)) return false;
  if (query.policies && !(event.policy !== undefined && query.policies.has(event.policy))) return false;
  if (query.agents) {
    const hit = query.agents.some((a) => (a.type === 'User' ? event.user : event.client) === a.id);
    if (!hit) return false;
  }
  return true;
}

function parseCount(values: string[]): number {
  if (values.length === 0) return DEFAULT_COUNT;
  if (values.length > 1) throw bad('_count may be given once');
  const n = Number(values[0]);
  if (!Number.isInteger(n) || n < 1 || n > MAX_COUNT)
    throw bad(`_count must be an integer from 1 to ${MAX_COUNT}`);
  return n;
}

/**
 * FHIR search on a date (R4 §3.1.1.4.2): `ge`/`gt`/`le`/`lt`, or none (`eq`: the value's whole
 * precision range). A value of a day covers the day; bounds from repeated parameters narrow.
 */
function applyDate(query: AuditQuery, raw: string): void {
  const m = /^(eq|ge|gt|le|lt)?(.+)$/.exec(raw);
  const prefix = m?.[1] ?? 'eq';
  const range = m ? dateRange(m[2] as string) : undefined;
  if (!range) {
    throw bad(`date must be a FHIR dateTime with an optional ge/le/gt/lt prefix, not ${JSON.stringify(raw)}`);
  }
  const [start, end] = range;
  const lower = prefix === 'ge' || prefix === 'eq' ? start : prefix === 'gt' ? end + 1 : undefined;
  const upper = prefix === 'le' || prefix === 'eq' ? end : prefix === 'lt' ? start - 1 : undefined;
  if (lower !== undefined) query.from = Math.max(query.from ?? lower, lower);
  if (upper !== undefined) query.to = Math.min(query.to ?? upper, upper);
}

/** The first and last millisecond a FHIR dateTime of any precision names (UTC when no zone). */
function dateRange(value: string): [number, number] | undefined {
  const m = DATE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, zone] = m;
  if (h !== undefined && zone === undefined) return undefined; // FHIR dateTime: a time needs a zone
  const start = Date.parse(
    `${y}-${mo ?? '01'}-${d ?? '01'}T${h ?? '00'}:${mi ?? '00'}:${s ?? '00'}${value.match(/\.\d+/)?.[0] ?? ''}${zone ?? 'Z'}`,
  );
  if (Number.isNaN(start)) return undefined;
  const next = new Date(start);
  if (mi !== undefined) {
    if (s === undefined) next.setUTCMinutes(next.getUTCMinutes() + 1);
    else return [start, value.includes('.') ? start : start + 999];
  } else if (d !== undefined) next.setUTCDate(next.getUTCDate() + 1);
  else if (mo !== undefined) next.setUTCMonth(next.getUTCMonth() + 1);
  else next.setUTCFullYear(next.getUTCFullYear() + 1);
  return [start, next.getTime() - 1];
}

function list(params: URLSearchParams, name: string): string[] | undefined {
  const values = params.getAll(name);
  if (values.length === 0) return undefined;
  if (values.length > 1) throw bad(`${name} may be given once (use a comma list for "any of")`);
  const items = (values[0] as string).split(',').filter((v) => v !== '');
  if (items.length === 0) throw bad(`${name} is empty`);
  return items;
}

function bad(message: string): ApiError {
  return new ApiError('ERR_BAD_REQUEST', message, {
    issues: [{ code: 'value', diagnostics: message, expression: 'AuditEvent search' }],
  });
}
