import { toAuditEvent } from '../audit/balp.js';
import type { AuditPage, AuditReader } from '../audit/reader.js';
import { type AuditQuery, parseAuditQuery } from '../audit/search.js';
import { AUDIT_STREAM } from '../audit/stream.js';
import { ApiError } from '../http/errors.js';
import type { RequestContext, Route } from '../http/router.js';

/**
 * `GET /AuditEvent` (DESIGN §14): a FHIR searchset Bundle of BALP-shaped AuditEvents from the
 * `AUTHZ_DECISIONS` stream, newest first; `GET /AuditEvent/:id` one of them by stream sequence.
 * Admin only (the router's Basic auth, or the console's session).
 */
export function auditEventRoutes(reader: AuditReader | undefined): Route[] {
  return [
    {
      method: 'GET',
      path: '/AuditEvent',
      async handle(ctx) {
        const query = parseAuditQuery(ctx.url.searchParams);
        const page = await readOrExplain(() => available(reader).search(query));
        return { status: 200, body: bundle(ctx, query, page) };
      },
    },
    {
      method: 'GET',
      path: '/AuditEvent/:id',
      async handle(ctx) {
        const id = ctx.params.id as string;
        const seq = Number(id);
        if (!/^[1-9][0-9]{0,15}$/.test(id) || !Number.isSafeInteger(seq)) {
          throw new ApiError('ERR_NOT_FOUND', `AuditEvent/${id} not found: ids are stream sequence numbers`);
        }
        const event = await readOrExplain(() => available(reader).get(seq));
        if (event === null)
          throw new ApiError(
            'ERR_NOT_FOUND',
            `AuditEvent/${id} not found (never recorded, or past AUTHZ_AUDIT_MAX_AGE)`,
          );
        return { status: 200, body: toAuditEvent(seq, event) };
      },
    },
  ];
}

function available(reader: AuditReader | undefined): AuditReader {
  if (!reader)
    throw new ApiError(
      'ERR_NOT_FOUND',
      'the audit trail is off on this config service (AUTHZ_AUDIT=off): no decision events are kept',
    );
  return reader;
}

/** A missing stream or a JetStream that does not answer is a 503 saying so, never an empty list. */
async function readOrExplain<T>(read: () => Promise<T | undefined>): Promise<T> {
  let result: T | undefined;
  try {
    result = await read();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(
      'ERR_UNAVAILABLE',
      `the audit stream ${AUDIT_STREAM} cannot be read now: JetStream did not answer`,
      {
        cause: err,
      },
    );
  }
  if (result === undefined) {
    throw new ApiError(
      'ERR_UNAVAILABLE',
      `the audit stream ${AUDIT_STREAM} does not exist (the config service re-creates it within seconds)`,
    );
  }
  return result;
}

function bundle(ctx: RequestContext, query: AuditQuery, page: AuditPage): Record<string, unknown> {
  const self = `${ctx.url.pathname}${ctx.url.search}`;
  const link: Array<{ relation: string; url: string }> = [{ relation: 'self', url: self }];
  if (page.next !== undefined) {
    const params = new URLSearchParams(ctx.url.searchParams);
    params.set('_cursor', String(page.next));
    link.push({ relation: 'next', url: `${ctx.url.pathname}?${params}` });
  }
  const entry: unknown[] = page.entries.map(({ seq, event }) => ({
    fullUrl: `AuditEvent/${seq}`,
    resource: toAuditEvent(seq, event),
    search: { mode: 'match' },
  }));
  if (page.stoppedBy) {
    const why =
      page.stoppedBy === 'scanned'
        ? `examined ${page.scanned} events without finding ${query.count} matches`
        : `ran out of time after examining ${page.scanned} events`;
    entry.push({
      // FHIR search: a warning outcome in the Bundle says the page is partial (issue type
      // `incomplete`), so a reader never takes a bounded scan for "nothing else matched".
      resource: {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'warning',
            code: 'incomplete',
            diagnostics: `the search ${why}; follow the next link to continue, or narrow it with date`,
          },
        ],
      },
      search: { mode: 'outcome' },
    });
  }
  return { resourceType: 'Bundle', type: 'searchset', link, entry };
}
