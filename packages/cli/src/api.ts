/** How the CLI reaches the config service (`AUTHZ_CONFIG_URL`, `AUTHZ_ADMIN_USER`, `AUTHZ_ADMIN_PASSWORD`). */
export interface ConfigConnection {
  url: string;
  user: string;
  password: string;
}

/** An answer of the config API. */
export interface ApiReply {
  status: number;
  body: unknown;
  headers: Headers;
}

/** The config service could not be reached, or answered something that is not its API. */
export class ApiUnreachableError extends Error {
  readonly code = 'ERR_UNREACHABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiUnreachableError';
  }
}

/** Every request waits this long at most: a hung server fails the command, never hangs CI. */
const TIMEOUT_MS = 30_000;

/** A small client of the config API with the admin's HTTP Basic credentials. */
export class ConfigClient {
  private readonly authorization: string;

  constructor(private readonly connection: ConfigConnection) {
    this.authorization = `Basic ${Buffer.from(`${connection.user}:${connection.password}`).toString('base64')}`;
  }

  /** Reads the connection from the environment; refuses to guess a password. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): ConfigClient {
    const password = env.AUTHZ_ADMIN_PASSWORD;
    if (!password) {
      throw new ApiUnreachableError(
        'AUTHZ_ADMIN_PASSWORD is not set: the config API needs the admin password',
      );
    }
    return new ConfigClient({
      url: (env.AUTHZ_CONFIG_URL || 'http://127.0.0.1:8081').replace(/\/+$/, ''),
      user: env.AUTHZ_ADMIN_USER || 'admin',
      password,
    });
  }

  /** One request; JSON in and out. */
  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiReply> {
    const init: RequestInit = {
      method,
      headers: { authorization: this.authorization, accept: 'application/json', ...headers },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { ...init.headers, 'content-type': 'application/json' };
    }
    let res: Response;
    try {
      res = await fetch(this.connection.url + path, init);
    } catch (err) {
      throw new ApiUnreachableError(
        `cannot reach the config service at ${this.connection.url}: ${causeOf(err)}`,
        {
          cause: err,
        },
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch (err) {
      throw new ApiUnreachableError(`${method} ${path} answered ${res.status} with a body that is not JSON`, {
        cause: err,
      });
    }
    if (res.status === 401) {
      throw new ApiUnreachableError(
        `the config service refused the admin credentials (AUTHZ_ADMIN_USER / AUTHZ_ADMIN_PASSWORD)`,
      );
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
