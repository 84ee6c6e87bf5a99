/**
 * Why a key set could not be had from its origin. Stable, so a failure one worker records in the
 * shared cache means the same thing to every worker that reads it back.
 */
export type KeySourceFailureCode =
  /** network error, timeout, oversized or forbidden-address fetch */
  | 'unreachable'
  /** the origin answered something other than 200 */
  | 'http-status'
  /** the document is not JSON, has no `keys` (no `jwks_uri`), or holds no usable signing key */
  | 'unusable-document'
  /** the URL (or a discovered `jwks_uri`) breaks the fetch rules (DESIGN §11 fetch safety) */
  | 'refused-url'
  /** a discovery document names another issuer (OpenID Connect Discovery §4.3) */
  | 'issuer-mismatch'
  /** another worker held the cluster's refetch lock and published nothing in time */
  | 'peer-timeout'
  /** the key source was removed (configuration change) while a caller waited on it */
  | 'source-removed';

const CODES: ReadonlySet<string> = new Set<KeySourceFailureCode>([
  'unreachable',
  'http-status',
  'unusable-document',
  'refused-url',
  'issuer-mismatch',
  'peer-timeout',
  'source-removed',
]);

/**
 * A key-source failure: the `cause` of the {@link VerifierUnavailableError}
 * (`ERR_KEY_SOURCE_UNAVAILABLE`) a token then gets. Its message names the origin, never a query.
 */
export class KeySourceError extends Error {
  constructor(
    readonly code: KeySourceFailureCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeySourceError';
  }

  /** `err` as a key-source failure: itself when it is one, else `unreachable` with `err` as its cause. */
  static from(err: unknown): KeySourceError {
    if (err instanceof KeySourceError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new KeySourceError('unreachable', message, { cause: err });
  }
}

/** A failure as workers share it (`jwks-failed:<h>`): when it happened, its code and message. */
export interface StoredFailure {
  at: number;
  code: KeySourceFailureCode;
  message: string;
}

/** The record of `failure` at `at`, for the shared cache. */
export function storedFailure(failure: KeySourceError, at: number): StoredFailure {
  return { at, code: failure.code, message: failure.message };
}

/**
 * A failure read back from the shared cache, as an error: the record (with the time it
 * happened) is its `cause`, since the original error lived in another process.
 */
export function recordedFailure(stored: StoredFailure): KeySourceError {
  return new KeySourceError(stored.code, stored.message, { cause: stored });
}

/** Whether a parsed JSON value is a {@link StoredFailure}. */
export function isStoredFailure(value: unknown): value is StoredFailure {
  const v = value as Partial<StoredFailure> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.at === 'number' &&
    typeof v.code === 'string' &&
    CODES.has(v.code) &&
    typeof v.message === 'string'
  );
}
