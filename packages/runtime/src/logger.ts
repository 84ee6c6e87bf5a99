import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino censors in every log line. Tokens, secrets and keys must never reach a log
 * (DESIGN §9), even when someone logs a whole request or resource by mistake.
 */
export const REDACT_PATHS = [
  'authorization',
  'token',
  'secret',
  'password',
  '*.authorization',
  '*.token',
  '*.secret',
  '*.password',
  '*.k',
  '*.pub',
  '*.jwk',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'request.headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'jwt.secret',
  '*.jwt.secret',
  'introspection_endpoint.authorization',
  '*.introspection_endpoint.authorization',
];

/** A JSON logger for one service, with redaction. */
export function createLogger(service: string, level: string = 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
