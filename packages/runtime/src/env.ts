import { DEFAULT_SUBJECT_PREFIX } from '@authz/protocol';

/** Thrown when the environment is invalid; `problems` lists every bad setting at once. */
export class EnvError extends Error {
  readonly code = 'ERR_ENV_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid environment:\n  - ${problems.join('\n  - ')}`);
    this.name = 'EnvError';
  }
}

/**
 * Reads and validates environment variables, collecting every problem so a bad setting stops
 * the process with one message instead of one problem per restart.
 *
 * @example
 * const env = new EnvReader();
 * const port = env.port('CONFIG_PORT', 8081);
 * env.done(); // throws EnvError listing every problem
 */
export class EnvReader {
  private readonly problems: string[] = [];
  constructor(private readonly source: NodeJS.ProcessEnv = process.env) {}

  /** A string; `undefined` when unset or empty and no default. */
  string(name: string): string | undefined;
  string(name: string, fallback: string): string;
  string(name: string, fallback?: string): string | undefined {
    const value = this.source[name];
    return value === undefined || value === '' ? fallback : value;
  }

  /** A string that must be set. */
  required(name: string, why: string): string {
    const value = this.string(name);
    if (value === undefined) this.problems.push(`${name} is required: ${why}`);
    return value ?? '';
  }

  /** An integer within bounds. */
  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  /** A TCP port (0 picks a free one). */
  port(name: string, fallback: number): number {
    return this.int(name, fallback, { min: 0, max: 65535 });
  }

  /** One of a fixed set of values. */
  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(values as readonly string[]).includes(raw)) {
      this.problems.push(`${name}=${JSON.stringify(raw)} must be one of ${values.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  /** A comma-separated list (empty items dropped). */
  list(name: string): string[] {
    return (this.string(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** Records a problem found by the caller. */
  problem(message: string): void {
    this.problems.push(message);
  }

  /** Throws {@link EnvError} when any setting was invalid. */
  done(): void {
    if (this.problems.length > 0) throw new EnvError(this.problems);
  }
}

/** Settings every service reads (DESIGN §4). */
export interface CommonEnv {
  natsServers: string[];
  natsUser?: string;
  natsPassword?: string;
  natsToken?: string;
  /** PEM files for NATS TLS; any of them set turns TLS on. */
  natsTls?: { caFile?: string; certFile?: string; keyFile?: string };
  redisUrl?: string;
  subjectPrefix: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** Hosts allowed over plain `http://` for JWKS and introspection (besides loopback). */
  insecureHosts: string[];
}

/** Reads {@link CommonEnv}; problems are recorded on `env`. */
export function readCommonEnv(env: EnvReader): CommonEnv {
  const natsServers = env.list('NATS_URL');
  const caFile = env.string('NATS_TLS_CA');
  const certFile = env.string('NATS_TLS_CERT');
  const keyFile = env.string('NATS_TLS_KEY');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    env.problem('NATS_TLS_CERT and NATS_TLS_KEY must be set together');
  }
  const prefix = env.string('AUTHZ_SUBJECT_PREFIX', DEFAULT_SUBJECT_PREFIX);
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    env.problem(`AUTHZ_SUBJECT_PREFIX=${JSON.stringify(prefix)} must be NATS subject tokens`);
  }
  return {
    natsServers: natsServers.length > 0 ? natsServers : ['nats://127.0.0.1:4222'],
    natsUser: env.string('NATS_USER'),
    natsPassword: env.string('NATS_PASSWORD'),
    natsToken: env.string('NATS_TOKEN'),
    natsTls: caFile || certFile || keyFile ? { caFile, certFile, keyFile } : undefined,
    redisUrl: env.string('REDIS_URL'),
    subjectPrefix: prefix,
    logLevel: env.oneOf('LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], 'info'),
    insecureHosts: env.list('AUTHZ_INSECURE_HOSTS'),
  };
}
