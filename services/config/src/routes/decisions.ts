import { DecisionEvent, wire } from '@authz/protocol';
import type { ConfigDeps } from '../deps.js';
import { ApiError } from '../http/errors.js';
import type { Route } from '../http/router.js';

/** Streams open at once; each holds a NATS subscription. */
export const MAX_DECISION_STREAMS = 16;
/** Bytes a slow reader may have queued before events for it are dropped (never buffered on). */
const MAX_QUEUED_BYTES = 1024 * 1024;
const HEARTBEAT_MS = 15_000;

/** Fields of a DecisionEvent passed to the console (its schema's); anything else a worker adds is not. */
const EVENT_FIELDS = Object.keys(DecisionEvent.properties) as ReadonlyArray<keyof DecisionEvent>;

interface DecisionFilter {
  status?: Set<number>;
  policy?: string;
  user?: string;
  allow?: boolean;
}

/**
 * `GET /$decisions`: a Server-Sent Events stream of `<prefix>.v1.decisions`, filtered on the
 * server by `status` (comma list), `policy`, `user` and `allow`. Each event is `event: decision`
 * with the DecisionEvent as JSON, limited to the contract's fields.
 */
export function decisionsRoute(deps: ConfigDeps): Route {
  let open = 0;
  return {
    method: 'GET',
    path: '/$decisions',
    async handle(ctx) {
      const filter = parseFilter(ctx.url.searchParams);
      if (open >= MAX_DECISION_STREAMS) {
        throw new ApiError(
          'ERR_TOO_MANY_STREAMS',
          `at most ${MAX_DECISION_STREAMS} decision streams may be open`,
        );
      }
      open++;
      const { res } = ctx;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
      });
      res.write(': stream of authz decisions\n\n');
      let seq = 0;
      let dropped = 0;
      const sub = deps.nc.subscribe(deps.subjects.decisions, {
        callback: (err, msg) => {
          if (err) return;
          const event = pick(msg.string());
          if (!event || !matches(event, filter)) return;
          if (res.writableLength > MAX_QUEUED_BYTES) {
            dropped++;
            return;
          }
          res.write(`id: ${++seq}\nevent: decision\ndata: ${JSON.stringify(event)}\n\n`);
        },
      });
      const heartbeat = setInterval(() => res.write(`: ping dropped=${dropped}\n\n`), HEARTBEAT_MS);
      heartbeat.unref();
      res.once('close', () => {
        open--;
        clearInterval(heartbeat);
        sub.unsubscribe();
        res.end();
      });
      return undefined;
    },
  };
}

function parseFilter(params: URLSearchParams): DecisionFilter {
  const filter: DecisionFilter = {};
  const status = params.get('status');
  if (status) {
    const codes = status.split(',').map(Number);
    if (codes.some((c) => !Number.isInteger(c))) {
      throw new ApiError('ERR_BAD_REQUEST', 'status must be a comma-separated list of HTTP status codes');
    }
    filter.status = new Set(codes);
  }
  const allow = params.get('allow');
  if (allow !== null) {
    if (allow !== 'true' && allow !== 'false')
      throw new ApiError('ERR_BAD_REQUEST', 'allow must be true or false');
    filter.allow = allow === 'true';
  }
  filter.policy = params.get('policy') ?? undefined;
  filter.user = params.get('user') ?? undefined;
  return filter;
}

/** The event's contract fields, or undefined when it is not JSON or not a valid DecisionEvent. */
function pick(text: string): DecisionEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object') return undefined;
  const source = raw as Record<string, unknown>;
  const event: Record<string, unknown> = {};
  for (const field of EVENT_FIELDS) if (source[field] !== undefined) event[field] = source[field];
  return wire.DecisionEvent.check(event) ? event : undefined;
}

function matches(event: DecisionEvent, filter: DecisionFilter): boolean {
  if (filter.status && !filter.status.has(Number(event.status))) return false;
  if (filter.allow !== undefined && event.allow !== filter.allow) return false;
  if (filter.policy !== undefined && event.policy !== filter.policy) return false;
  if (filter.user !== undefined && event.user !== filter.user) return false;
  return true;
}
