import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hashToken } from '@authz/protocol';

/** How the server misbehaves instead of answering by the RFC (`undefined`: behave). */
export type IntrospectionFailureMode =
  /** 200 with a body that is not JSON */
  | 'garbage'
  /** 500 with a JSON error body */
  | 'status-500'
  /** 200 with a JSON array instead of an object */
  | 'not-object'
  /** 200 with a valid answer padded past 1 MiB */
  | 'oversized';

/** Options of {@link startIntrospectionServer}. */
export interface IntrospectionServerOptions {
  /** The exact `Authorization` header callers must send; requests without it get 401. Default: none required. */
  authorization?: string;
  /** Token → introspection response. Tokens not listed answer `{"active": false}`. */
  tokens?: Record<string, Record<string, unknown>>;
  /** Port to listen on (127.0.0.1); default a free one. */
  port?: number;
}

/** What the server saw of one request (the token itself only as its hash). */
export interface IntrospectionRequestRecord {
  method: string;
  contentType: string | undefined;
  accept: string | undefined;
  authorized: boolean;
  tokenHash: string | undefined;
}

/**
 * A real RFC 7662 introspection endpoint on 127.0.0.1 for tests.
 *
 * @example
 * const idp = await startIntrospectionServer({ authorization: 'Basic czpz', tokens: { 'tok-1': { active: true, sub: 'u1' } } });
 * // TokenIntrospector: introspection_endpoint: { url: idp.url, authorization: 'Basic czpz' }
 * expect(idp.calls('tok-1')).toBe(1);
 * await idp.stop(); // endpoint down; `await idp.start()` brings it back on the same port
 */
export interface IntrospectionServer {
  /** The endpoint URL, `http://127.0.0.1:<port>/introspect`. */
  readonly url: string;
  readonly port: number;
  /** Sets (or replaces) the response for `token`. */
  setToken(token: string, response: Record<string, unknown>): void;
  /** Forgets `token`: it answers `{"active": false}` from now on. */
  removeToken(token: string): void;
  /** Introspection requests answered so far: all of them, or only those for `token`. */
  calls(token?: string): number;
  /** Every request seen, oldest first. */
  readonly requests: readonly IntrospectionRequestRecord[];
  /** Zeroes the counters and forgets the recorded requests. */
  resetCalls(): void;
  /** Delays every answer by `ms` (0: answer at once). */
  setDelay(ms: number): void;
  /** Makes every request arriving from now on fail in the given way, or restores RFC behaviour with `undefined`. */
  setFailure(mode: IntrospectionFailureMode | undefined): void;
  /** Stops listening and drops open connections (the endpoint is then down). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops for good. */
  dispose(): Promise<void>;
}

const MAX_REQUEST_BYTES = 64 * 1024;

/** Starts an {@link IntrospectionServer}. */
export async function startIntrospectionServer(
  options: IntrospectionServerOptions = {},
): Promise<IntrospectionServer> {
  const tokens = new Map(Object.entries(options.tokens ?? {}));
  const requests: IntrospectionRequestRecord[] = [];
  const perToken = new Map<string, number>();
  let total = 0;
  let delayMs = 0;
  let failure: IntrospectionFailureMode | undefined;
  const expected = options.authorization === undefined ? undefined : Buffer.from(options.authorization);

  const authorized = (header: string | undefined): boolean => {
    if (expected === undefined) return true;
    const given = Buffer.from(header ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const answer = async (req: IncomingMessage, res: ServerResponse, body: string): Promise<void> => {
    const token = new URLSearchParams(body).get('token') ?? undefined;
    const record: IntrospectionRequestRecord = {
      method: req.method ?? '',
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
      authorized: authorized(req.headers.authorization),
      tokenHash: token === undefined ? undefined : hashToken(token),
    };
    requests.push(record);
    // The failure mode in force when the request arrived applies, even if a test changes it during the delay.
    const mode = failure;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (!record.authorized)
      return send(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic' });
    if (
      req.method !== 'POST' ||
      token === undefined ||
      !record.contentType?.startsWith('application/x-www-form-urlencoded')
    ) {
      return send(res, 400, { error: 'invalid_request' });
    }
    total += 1;
    perToken.set(record.tokenHash!, (perToken.get(record.tokenHash!) ?? 0) + 1);
    const response = tokens.get(token) ?? { active: false };
    switch (mode) {
      case 'garbage':
        return send(res, 200, '<html>not json</html>');
      case 'status-500':
        return send(res, 500, { error: 'server_error' });
      case 'not-object':
        return send(res, 200, [response]);
      case 'oversized':
        return send(res, 200, { ...response, padding: 'x'.repeat(1024 * 1024) });
      default:
        return send(res, 200, response);
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      answer(req, res, Buffer.concat(chunks).toString('utf8')).catch(() => res.destroy());
    });
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  const port = await listen(options.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}/introspect`,
    port,
    setToken: (token, response) => void tokens.set(token, response),
    removeToken: (token) => void tokens.delete(token),
    calls: (token) => (token === undefined ? total : (perToken.get(hashToken(token)) ?? 0)),
    requests,
    resetCalls: () => {
      total = 0;
      perToken.clear();
      requests.length = 0;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    setFailure: (mode) => {
      failure = mode;
    },
    stop,
    start: async () => {
      if (!server.listening) await listen(port);
    },
    dispose: stop,
  };
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const type = typeof body === 'string' ? 'text/html' : 'application/json';
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
