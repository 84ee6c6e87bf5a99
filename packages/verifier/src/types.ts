/** What a verified token says about its bearer. Never holds the token itself. */
export interface VerifiedIdentity {
  kind: 'jwt' | 'opaque';
  /** id of the TokenIntrospector that accepted the token */
  introspector: string;
  /** JWT payload, or the whole RFC 7662 introspection response */
  claims: Record<string, unknown>;
  /** expiry, seconds since the epoch, when known */
  exp?: number;
  /** opaque: when the endpoint said `active`, ms since the epoch (a subject revocation drops older results) */
  checkedAt?: number;
}

/** Hooks for metrics; every member optional so tests and tools can pass nothing. */
export interface VerifierMetrics {
  cacheLookup?(tier: 'memory' | 'redis', kind: 'token' | 'jwks' | 'introspection', hit: boolean): void;
  jwksFetch?(ok: boolean): void;
  staleKeysServed?(): void;
  introspectionCall?(ok: boolean): void;
}

/** The pino-compatible subset of a logger the verifier uses. */
export interface VerifierLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything. */
export const silentLogger: VerifierLogger = { debug() {}, info() {}, warn() {}, error() {} };
