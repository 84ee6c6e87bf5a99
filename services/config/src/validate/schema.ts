import { RESOURCE_SCHEMAS, RESOURCE_TYPES, type ResourceType } from '@authz/protocol';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ApiIssue } from '../http/errors.js';

/** Most issues reported for one resource: enough to fix it, bounded for hostile bodies. */
export const MAX_ISSUES = 50;

const ajv = new Ajv({ allErrors: true, strict: true });
// Compiled once at start-up; the schemas never change at run time.
const validators = new Map<ResourceType, ValidateFunction>(
  RESOURCE_TYPES.map((type) => [type, ajv.compile(RESOURCE_SCHEMAS[type])]),
);

/**
 * Checks `resource` against the JSON Schema of `type` (from `@authz/protocol`). Each issue's
 * `expression` names the offending field, e.g. `TokenIntrospector.jwt.keys[1].alg`.
 */
export function schemaIssues(type: ResourceType, resource: unknown): ApiIssue[] {
  const validate = validators.get(type);
  if (!validate) throw new Error(`no schema for ${type}`);
  if (validate(resource)) return [];
  return ajvIssues(validate.errors ?? [], type);
}

/** Turns ajv errors into issues with FHIRPath-like paths prefixed by `root`. */
export function ajvIssues(errors: readonly ErrorObject[], root: string): ApiIssue[] {
  // TypeBox unions compile to anyOf: fold each anyOf's branch errors into one sentence.
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  const inBranch = (e: ErrorObject) =>
    anyOfs.some((a) => e !== a && e.schemaPath.startsWith(`${a.schemaPath}/`));
  const issues: ApiIssue[] = [];
  for (const error of errors) {
    if (inBranch(error)) continue;
    const at = pointerToPath(error.instancePath);
    if (error.keyword === 'anyOf') {
      const branches = errors.filter((e) => e.schemaPath.startsWith(`${error.schemaPath}/`));
      issues.push({ code: 'value', diagnostics: anyOfSentence(branches), expression: join(root, at) });
    } else if (error.keyword === 'additionalProperties') {
      const field = String(error.params.additionalProperty);
      issues.push({
        code: 'structure',
        diagnostics: 'is not a known field here',
        expression: join(root, at, segmentName(field)),
      });
    } else if (error.keyword === 'required') {
      const field = String(error.params.missingProperty);
      issues.push({
        code: 'required',
        diagnostics: 'is required',
        expression: join(root, at, segmentName(field)),
      });
    } else {
      issues.push({ code: 'value', diagnostics: error.message ?? 'is invalid', expression: join(root, at) });
    }
    if (issues.length >= MAX_ISSUES) break;
  }
  // A problem with the body as a whole has no path to name.
  for (const issue of issues) if (issue.expression === '') delete issue.expression;
  return issues;
}

function anyOfSentence(branches: readonly ErrorObject[]): string {
  if (branches.length > 0 && branches.every((b) => b.keyword === 'const')) {
    return `must be one of: ${branches.map((b) => String(b.params.allowedValue)).join(', ')}`;
  }
  const forms = [...new Set(branches.map((b) => (b.message ?? '').replace(/^must be /, '')))].filter(Boolean);
  return forms.length > 0 ? `must be ${forms.join(' or ')}` : 'does not match any allowed form';
}

/** `/jwt/keys/1/pub` → `jwt.keys[1].pub` (JSON Pointer, RFC 6901, to FHIRPath-like). */
export function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(segment) ? `[${segment}]` : `${out === '' ? '' : '.'}${segmentName(segment)}`;
  }
  return out;
}

function segmentName(segment: string): string {
  // FHIRPath quotes identifiers that are not plain names with backticks.
  return /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment) ? segment : `\`${segment}\``;
}

/** Joins path parts with dots, skipping empty ones; array indexes attach without a dot. */
export function join(...parts: string[]): string {
  let out = '';
  for (const part of parts) {
    if (part === '') continue;
    out += out === '' || part.startsWith('[') ? part : `.${part}`;
  }
  return out;
}
