/** Stable codes of {@link SmartError}. */
export type SmartErrorCode = 'ERR_SMART_SCOPE_INVALID' | 'ERR_SMART_PATIENT_INVALID';

/** Base of this package's errors: a stable `code` and a sentence a person can act on. */
export class SmartError extends Error {
  constructor(
    readonly code: SmartErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * A SMART resource scope that does not parse, or breaks a rule of SMART 2.2 / Aidbox (search
 * parameters on `system/`, wildcard or v1 scopes): the token is refused whole (401).
 */
export class ScopeError extends SmartError {
  constructor(
    message: string,
    /** the offending scope, when one */
    readonly scope?: string,
  ) {
    super('ERR_SMART_SCOPE_INVALID', `The token's SMART scopes are invalid: ${message}.`);
  }
}
