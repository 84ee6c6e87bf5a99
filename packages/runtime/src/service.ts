import { type CommonEnv, EnvError } from './env.js';
import { exitOnFatal, onShutdown } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { announceReady } from './ready.js';

/** What a started service hands back to its shell. */
export interface StartedService {
  /** Fields of the readiness announcement and the `ready` log line (port, url, …). */
  ready: Record<string, unknown>;
  /** Stops taking work, finishes what was accepted and closes connections (on SIGTERM / SIGINT). */
  stop: () => Promise<void>;
}

/** One service process, as its `main.ts` composes it. */
export interface ServiceDefinition<E extends CommonEnv> {
  /** Process title and logger name (DESIGN §3): `authz-config`, `authz-worker`, `authz-gateway`. */
  name: string;
  /** Reads the environment; throws `EnvError` listing every problem. */
  readEnv: () => E;
  /** Fields every log line carries (the worker's id). */
  bindings?: Record<string, unknown>;
  /** Connects, listens and subscribes; resolves once the service can do its work. */
  start: (env: E, logger: Logger) => Promise<StartedService>;
}

/**
 * The one service shell (STYLE "Seams between packages"): sets the process title, reads the
 * environment once (a bad one stops the process with exit code 2 and one message naming every
 * problem, on stderr and as a fatal log line), creates the logger, exits on uncaught errors,
 * starts the service (a failure is exit code 1), announces readiness and stops on SIGTERM/SIGINT.
 *
 * @example
 * runService({ name: 'authz-gateway', readEnv: readGatewayEnv, start: startGateway });
 */
export function runService<E extends CommonEnv>(service: ServiceDefinition<E>): void {
  process.title = service.name;
  let env: E;
  try {
    env = service.readEnv();
  } catch (err) {
    if (!(err instanceof EnvError)) throw err;
    process.stderr.write(`${service.name}: ${err.message}\n`);
    createLogger(service.name).fatal({ problems: err.problems }, 'invalid environment');
    process.exit(2);
  }
  const root = createLogger(service.name, env.logLevel);
  const logger = service.bindings ? root.child(service.bindings) : root;
  exitOnFatal(logger);
  service.start(env, logger).then(
    ({ ready, stop }) => {
      onShutdown(stop, logger);
      announceReady(logger, service.name, ready);
    },
    (err: unknown) => {
      // The message on stderr (a person reads it); the stack in the fatal log line.
      process.stderr.write(
        `${service.name}: failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      logger.fatal({ err }, 'failed to start');
      process.exit(1);
    },
  );
}
