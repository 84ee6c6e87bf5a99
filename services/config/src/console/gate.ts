import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@authz/runtime';
import type { AdminAuth } from '../http/auth.js';
import { readParsedBody } from '../http/body.js';
import { CredentialThrottle, type ThrottleLimits } from '../http/credential-throttle.js';
import { ApiError } from '../http/errors.js';
import type { Reply } from '../http/router.js';
import { ConsoleAssets, defaultConsoleDir } from './assets.js';
import {
  CONSOLE_SECURITY_HEADERS,
  CSRF_HEADER,
  isHttps,
  readCookie,
  SESSION_COOKIE,
  sessionCookie,
} from './http-headers.js';
import { type ConsoleSession, type SessionLimits, SessionStore } from './sessions.js';

/** Options of the console (all optional; tests shorten lifetimes and point at other builds). */
export interface ConsoleOptions {
  /** The console's built files; default: `dist/` of the installed `@authz/console`. */
  dir?: string;
  sessions?: Partial<SessionLimits>;
  throttle?: Partial<ThrottleLimits>;
}

/** Where a path under `/console` goes. */
export type ConsoleArea =
  | { kind: 'page'; file: string }
  | { kind: 'session' }
  /** An admin route reached with the session cookie; `path` is the route's own path. */
  | { kind: 'api'; path: string };

const API_PREFIX = '/console/api';
const SAFE_METHODS = new Set(['GET', 'HEAD']);
const MAX_LOGIN_BYTES = 4096;

/**
 * Classifies a pathname: `undefined` outside `/console`, else the page, the session endpoint, or
 * an admin API route mounted under `/console/api/…`.
 */
export function consoleArea(pathname: string): ConsoleArea | undefined {
  if (pathname !== '/console' && !pathname.startsWith('/console/')) return undefined;
  if (pathname === `${API_PREFIX}/session`) return { kind: 'session' };
  if (pathname === API_PREFIX || pathname.startsWith(`${API_PREFIX}/`)) {
    return { kind: 'api', path: pathname.slice(API_PREFIX.length) || '/' };
  }
  // `/console` itself is redirected to `/console/` (file ''), so relative asset URLs resolve.
  if (pathname === '/console') return { kind: 'page', file: '' };
  const file = pathname.slice('/console/'.length);
  return { kind: 'page', file: file === '' ? 'index.html' : file };
}

/**
 * The console's server side: serves the built page, signs the admin in and out with a
 * server-side session, and authorizes console API calls (session cookie, plus a custom header
 * and same-origin check on writes, as SameSite=Strict alone leaves older browsers open to CSRF).
 */
export class ConsoleGate {
  readonly assets: ConsoleAssets;
  readonly sessions: SessionStore;
  private readonly throttle: CredentialThrottle;

  constructor(
    private readonly auth: AdminAuth,
    options: ConsoleOptions = {},
  ) {
    this.assets = new ConsoleAssets(options.dir ?? defaultConsoleDir());
    this.sessions = new SessionStore(options.sessions);
    this.throttle = new CredentialThrottle(options.throttle);
  }

  /** Sets the console's security headers on `res` (before anything is written). */
  secure(res: ServerResponse): void {
    for (const [name, value] of Object.entries(CONSOLE_SECURITY_HEADERS)) res.setHeader(name, value);
    // API answers hold configuration and secrets: never cached (pages override this).
    res.setHeader('cache-control', 'no-store');
  }

  /** Serves a built file; writes the response itself. */
  servePage(req: IncomingMessage, res: ServerResponse, file: string): void {
    const method = req.method ?? 'GET';
    if (!SAFE_METHODS.has(method)) {
      throw new ApiError('ERR_METHOD_NOT_ALLOWED', `${method} is not allowed here; allowed: GET`, {
        headers: { allow: 'GET, HEAD' },
      });
    }
    if (file === '') {
      res.writeHead(308, { location: '/console/' }).end();
      return;
    }
    if (!this.assets.available) {
      throw new ApiError(
        'ERR_UNAVAILABLE',
        'the console is not built: run `pnpm exec turbo run build` (or `pnpm --filter @authz/console build`) and reload',
      );
    }
    const asset = this.assets.get(file);
    if (!asset) throw new ApiError('ERR_NOT_FOUND', `no such console file: ${file.slice(0, 120)}`);
    const headers = {
      'content-type': asset.contentType,
      etag: asset.etag,
      'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': asset.body.length });
    res.end(method === 'HEAD' ? undefined : asset.body);
  }

  /** `/console/api/session`: GET who is signed in, POST sign in, DELETE sign out. */
  async session(req: IncomingMessage, log: Logger): Promise<Reply> {
    switch (req.method) {
      case 'GET': {
        const session = this.authorize(req);
        return { status: 200, body: describe(session) };
      }
      case 'POST':
        return this.signIn(req, log);
      case 'DELETE': {
        this.authorize(req);
        this.sessions.revoke(readCookie(req.headers.cookie, SESSION_COOKIE));
        log.info('console sign-out');
        const cookie = sessionCookie(undefined, 0, isHttps(req));
        return { status: 200, body: { signedOut: true }, headers: { 'set-cookie': cookie } };
      }
      default:
        throw new ApiError('ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed here`, {
          headers: { allow: 'GET, POST, DELETE' },
        });
    }
  }

  /**
   * The session of a console API call; 401 without one (no Basic challenge: the browser must
   * not pop up its own dialog), 403 for a write that fails the CSRF checks. With `res`, the
   * response is cut off if the session ends first (a decisions stream stops at sign-out).
   */
  authorize(req: IncomingMessage, res?: ServerResponse): ConsoleSession {
    const id = readCookie(req.headers.cookie, SESSION_COOKIE);
    const session = this.sessions.get(id);
    if (!session || id === undefined) throw new ApiError('ERR_UNAUTHORIZED', 'sign in to the console first');
    if (!SAFE_METHODS.has(req.method ?? 'GET')) assertSameOrigin(req);
    if (res)
      res.once(
        'close',
        this.sessions.attach(id, () => res.destroy()),
      );
    return session;
  }

  /** Ends streams of sessions that expired in the meantime; `stop()` ends the timer. */
  startSweeping(everyMs = 30_000): { stop(): void } {
    const timer = setInterval(() => this.sessions.sweep(), everyMs);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  private async signIn(req: IncomingMessage, log: Logger): Promise<Reply> {
    assertSameOrigin(req);
    const address = req.socket.remoteAddress ?? 'unknown';
    this.throttle.assertAllowed(address);
    const { value } = await readParsedBody(req, MAX_LOGIN_BYTES, ['json']);
    const { user, password } = credentialsOf(value);
    // Again after the body arrived: from here to fail() nothing awaits, so concurrent guesses
    // from one address each see the failures before them.
    this.throttle.assertAllowed(address);
    if (!this.auth.matchesCredentials(user, password)) {
      log.warn({ remote: address }, 'console sign-in refused');
      await this.throttle.fail(address);
      throw new ApiError('ERR_UNAUTHORIZED', 'wrong user name or password');
    }
    this.throttle.succeed(address);
    // A new id at every sign-in: a cookie planted before sign-in is never promoted (fixation).
    this.sessions.revoke(readCookie(req.headers.cookie, SESSION_COOKIE));
    const { id, session } = this.sessions.create(user);
    log.info({ remote: address }, 'console sign-in');
    const cookie = sessionCookie(id, this.sessions.cookieMaxAge, isHttps(req));
    return { status: 200, body: describe(session), headers: { 'set-cookie': cookie } };
  }
}

function describe(session: ConsoleSession): { user: string; expires: string } {
  return { user: session.user, expires: new Date(session.expires).toISOString() };
}

function credentialsOf(value: unknown): { user: string; password: string } {
  const body = (value ?? {}) as Record<string, unknown>;
  const issues = [];
  for (const field of ['user', 'password'] as const) {
    const v = body[field];
    if (typeof v !== 'string' || v === '' || v.length > 1024) {
      issues.push({
        code: 'required' as const,
        diagnostics: 'must be a non-empty string',
        expression: field,
      });
    }
  }
  if (issues.length > 0) throw new ApiError('ERR_BAD_REQUEST', 'send {"user": …, "password": …}', { issues });
  return { user: body.user as string, password: body.password as string };
}

/**
 * CSRF defence for writes: the custom header (which a cross-site form or a no-CORS fetch cannot
 * send), and when the browser says where the request came from (`Origin`, `Sec-Fetch-Site`),
 * that it came from this very origin.
 */
function assertSameOrigin(req: IncomingMessage): void {
  if (req.headers[CSRF_HEADER] !== '1') {
    throw new ApiError('ERR_FORBIDDEN', `console writes must carry the header ${CSRF_HEADER}: 1`);
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new ApiError('ERR_FORBIDDEN', `a ${site} request may not write through the console`);
  }
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = origin === 'null' ? undefined : new URL(origin).host;
  } catch {
    host = undefined;
  }
  const forwarded = req.headers['x-forwarded-host'];
  const own = [req.headers.host, ...(Array.isArray(forwarded) ? forwarded : [forwarded])];
  if (host === undefined || !own.includes(host)) {
    throw new ApiError('ERR_FORBIDDEN', 'the request comes from another origin');
  }
}
