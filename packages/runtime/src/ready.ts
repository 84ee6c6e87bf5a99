import type { Logger } from './logger.js';

/** The message a service sends its parent over the IPC channel once it is ready. */
export interface ReadyMessage {
  readonly type: 'authz.ready';
  /** The service (`authz-config`, `authz-worker`, `authz-gateway`). */
  readonly service: string;
  /** What the `ready` log line carries too: the port it listens on, its URL, … */
  readonly [field: string]: unknown;
}

/**
 * Announces that the service is ready: the `ready` log line (info level) and, when a parent
 * started this process with an IPC channel (the local runner does), a {@link ReadyMessage} on it.
 * Readiness must not depend on log verbosity: with `LOG_LEVEL=warn` the line is not written, the
 * message still is (issue 11: a quieter level must not stop the cluster from starting).
 */
export function announceReady(logger: Logger, service: string, fields: Record<string, unknown>): void {
  logger.info(fields, 'ready');
  // No listener is attached to the channel, so it does not keep the process alive.
  if (typeof process.send === 'function' && process.connected) {
    const message: ReadyMessage = { ...fields, type: 'authz.ready', service };
    process.send(message, undefined, {}, () => {});
  }
}
