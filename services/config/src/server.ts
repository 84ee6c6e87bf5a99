import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { acceptRequestId } from '@authz/runtime';
import { ConsoleGate, type ConsoleOptions, consoleArea } from './console/gate.js';
import type { ConfigDeps } from './deps.js';
import { AdminAuth } from './http/auth.js';
import type { ThrottleLimits } from './http/credential-throttle.js';
import { ApiError } from './http/errors.js';
import { replyFormat, sendBody } from './http/negotiate.js';
import { type Reply, type RequestContext, Router } from './http/router.js';
import { auditEventRoutes } from './routes/audit-events.js';
import { authTestPolicyRoute } from './routes/auth-test-policy.js';
import { bundleRoutes } from './routes/bundle.js';
import { checkRoute } from './routes/check.js';
import { decisionsRoute } from './routes/decisions.js';
import { opsRoutes } from './routes/ops.js';
import { resourceRoutes } from './routes/resources.js';
import { revokeRoute } from './routes/revoke.js';
import { testPolicyRoute } from './routes/test-policy.js';
import { validateRoute } from './routes/validate.js';

/** Admin credentials of the API (`CONFIG_ADMIN_USER` / `CONFIG_ADMIN_PASSWORD`). */
export interface AdminCredentials {
  user: string;
  password: string;
}

/** Options of {@link createConfigServer}. */
export interface ConfigServerOptions {
  /** The web console under `/console/` (see `console/gate.ts`). */
  console?: ConsoleOptions;
  /** `AUTHZ_FHIR_BASE`, default `/fhir` (DESIGN §12). */
  fhirBase?: string;
  /** How failed HTTP Basic attempts on the admin API are throttled per address (DESIGN §11). */
  adminThrottle?: Partial<ThrottleLimits>;
}

/**
 * Builds the config service's HTTP server (not yet listening). Everything except `/healthz`,
 * `/readyz` and `/metrics` needs the admin's HTTP Basic credentials; every error is a FHIR
 * OperationOutcome; unexpected failures are 500 and nothing is stored.
 *
 * @example
 * const server = createConfigServer(deps, { user: 'admin', password });
 * server.listen(8081, '127.0.0.1');
 */
export function createConfigServer(
  deps: ConfigDeps,
  admin: AdminCredentials,
  options: ConfigServerOptions = {},
): Server {
  const auth = new AdminAuth(admin.user, admin.password, options.adminThrottle);
  const gate = new ConsoleGate(auth, options.console);
  const router = new Router().add(
    ...opsRoutes(deps),
    testPolicyRoute(deps),
    authTestPolicyRoute(deps, options.fhirBase ?? '/fhir'),
    revokeRoute(deps),
    checkRoute(deps),
    validateRoute(deps),
    decisionsRoute(deps),
    ...auditEventRoutes(deps.audit),
    ...bundleRoutes(deps),
    ...resourceRoutes(deps),
  );
  const server = createServer((req, res) => {
    void handle(req, res);
  });
  const sweeping = gate.startSweeping();
  server.once('close', () => sweeping.stop());
  // Slow clients cannot hold connections open forever (slowloris).
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    const requestId = acceptRequestId(req.headers['x-request-id']) ?? randomUUID();
    const log = deps.logger.child({ req_id: requestId });
    const format = replyFormat(req.headers.accept);
    let route = 'unmatched';
    res.setHeader('x-request-id', requestId);
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      deps.metrics.requests.inc({ route, method, status: res.statusCode });
      deps.metrics.latency.observe({ route, method }, seconds);
      const level =
        route.startsWith('/healthz') || route === '/readyz' || route === '/metrics' ? 'debug' : 'info';
      log[level]({ method, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 }, 'request');
    });
    try {
      const url = new URL(req.url ?? '/', 'http://config.invalid');
      // The console: its page and session endpoint, and every admin route under /console/api
      // with the session cookie in place of Basic credentials.
      const area = consoleArea(url.pathname);
      if (area) gate.secure(res);
      if (area?.kind === 'page') {
        route = '/console/*';
        return gate.servePage(req, res, area.file);
      }
      if (area?.kind === 'session') {
        route = '/console/api/session';
        return send(res, await gate.session(req, log), 'json');
      }
      if (area) {
        route = '/console/api';
        gate.authorize(req, res);
      }
      const match = router.match(method, area ? area.path : url.pathname);
      route = area ? `/console/api${match.route.path}` : match.route.path;
      if (!area && !match.route.public) {
        const remote = req.socket.remoteAddress ?? 'unknown';
        try {
          await auth.verify(req.headers.authorization, remote);
        } catch (err) {
          log.warn({ remote, route }, 'admin authentication failed');
          throw err;
        }
      }
      const ctx: RequestContext = { req, res, url, params: match.params, log, requestId, format };
      const reply = await match.route.handle(ctx);
      if (reply) send(res, reply, ctx.format);
    } catch (err) {
      sendError(req, res, err, log);
    }
  }
  return server;
}

function send(res: ServerResponse, reply: Reply, format: 'json' | 'yaml'): void {
  if (reply.text) {
    res.writeHead(reply.status, { ...reply.headers, 'content-type': reply.text.contentType });
    res.end(reply.text.value);
    return;
  }
  sendBody(res, reply.status, reply.body ?? {}, format, reply.headers);
}

function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  log: RequestContext['log'],
): void {
  const apiError =
    err instanceof ApiError
      ? err
      : new ApiError('ERR_INTERNAL', 'internal error; nothing was changed', { cause: err });
  if (apiError.status >= 500) log.error({ err, code: apiError.code }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers = { ...apiError.headers };
  // The rest of an oversized body is not read: close the connection instead of draining it.
  if (apiError.code === 'ERR_BODY_TOO_LARGE' || !req.complete) headers.connection = 'close';
  // DESIGN §7: errors are OperationOutcome JSON whatever the Accept header asked for.
  sendBody(res, apiError.status, apiError.toOutcome(), 'json', headers);
}
