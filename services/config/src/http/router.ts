import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@authz/runtime';
import { ApiError } from './errors.js';
import type { ReplyFormat } from './negotiate.js';

/** What a handler answers; `undefined` when it wrote the response itself (streams). */
export interface Reply {
  status: number;
  /** Serialised as JSON or YAML by the caller's `Accept`. */
  body?: unknown;
  /** Sent verbatim with this content type instead of `body` (Prometheus text). */
  text?: { contentType: string; value: string };
  headers?: Record<string, string>;
}

/** Everything a handler sees of one request. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  readonly log: Logger;
  readonly requestId: string;
  /** Reply format asked for by `Accept`. */
  readonly format: ReplyFormat;
}

/** One route. `path` segments starting with `:` capture; the path is also the metrics label. */
export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** No admin credentials needed (health and metrics only). */
  public?: boolean;
  handle(ctx: RequestContext): Promise<Reply | undefined>;
}

/**
 * A small exact-segment router. Literal segments win over captures, so `/$revoke` never reads as
 * a resource type. A path that exists under other methods is a 405 with `Allow`.
 */
export class Router {
  private readonly routes: Array<{ route: Route; segments: string[] }> = [];

  /** Registers routes; literal-only paths should be added before captured ones. */
  add(...routes: Route[]): this {
    for (const route of routes) this.routes.push({ route, segments: split(route.path) });
    // Fewer captures first: the most specific route wins regardless of registration order.
    this.routes.sort((a, b) => captures(a.segments) - captures(b.segments));
    return this;
  }

  /** The route for `method pathname`; throws 404 or 405 {@link ApiError}s. */
  match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
    const segments = split(pathname).map(decodeSegment);
    const allowed = new Set<string>();
    let matchedPath: string | undefined;
    for (const { route, segments: pattern } of this.routes) {
      const params = matchSegments(pattern, segments);
      if (!params) continue;
      // Only routes sharing the first matching shape count for Allow (a literal beats `:type`).
      if (matchedPath !== undefined && matchedPath !== shape(pattern)) continue;
      matchedPath = shape(pattern);
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
      allowed.add(route.method);
    }
    if (allowed.size > 0) {
      const allow = [...allowed].join(', ');
      throw new ApiError('ERR_METHOD_NOT_ALLOWED', `${method} is not allowed here; allowed: ${allow}`, {
        headers: { allow },
      });
    }
    throw new ApiError('ERR_NOT_FOUND', `no such endpoint: ${pathname}`);
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function captures(segments: string[]): number {
  return segments.filter((s) => s.startsWith(':')).length;
}

function shape(segments: string[]): string {
  return segments.map((s) => (s.startsWith(':') ? ':' : s)).join('/');
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError('ERR_BAD_REQUEST', 'the path is not valid percent-encoding');
  }
}

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    const s = segments[i] as string;
    if (p.startsWith(':')) params[p.slice(1)] = s;
    else if (p !== s) return undefined;
  }
  return params;
}
