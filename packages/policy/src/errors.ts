/** Stable codes of every policy configuration failure (the config service answers 422 for both). */
export type PolicyErrorCode = 'ERR_POLICY_INVALID' | 'ERR_POLICY_ENGINE_UNSUPPORTED';

/** One problem in an AccessPolicy, with the path of the field at fault (`matcho.uri`, `and[1].engine`). */
export interface PolicyIssue {
  path: string;
  message: string;
}

/**
 * An AccessPolicy cannot be compiled as written. `issues` names every problem found, each with its
 * path, so the config service can place the 422 at the offending field.
 */
export class PolicyConfigError extends Error {
  readonly code: PolicyErrorCode;
  readonly issues: PolicyIssue[];

  constructor(issues: PolicyIssue[], options?: { unsupported?: boolean; cause?: unknown }) {
    super(
      issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = options?.unsupported ? 'ERR_POLICY_ENGINE_UNSUPPORTED' : 'ERR_POLICY_INVALID';
    this.issues = issues;
  }
}

/**
 * Collects issues while a policy compiles, so one PUT reports every problem at once rather than
 * the first. Unsupported engines are tracked apart: they decide the error's `code`.
 */
export class IssueCollector {
  readonly issues: PolicyIssue[] = [];
  unsupported = false;

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  addUnsupported(path: string, message: string): void {
    this.unsupported = true;
    this.add(path, message);
  }

  get failed(): boolean {
    return this.issues.length > 0;
  }

  /** Throws {@link PolicyConfigError} when anything was collected. */
  throwIfAny(): void {
    if (this.failed) throw new PolicyConfigError(this.issues, { unsupported: this.unsupported });
  }
}

/** Joins a parent path and a key the way issues name fields: `matcho.params.resource/type`, `and[1]`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}
