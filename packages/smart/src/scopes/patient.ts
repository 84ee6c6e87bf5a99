import { SmartError } from '../errors.js';

/** The patient a token is about: ids match `Patient/<id>`, urls match absolute references exactly. */
export interface PatientContext {
  readonly ids: readonly string[];
  readonly urls: readonly string[];
  /** for reasons: `Patient/pt1` */
  readonly label: string;
}

// FHIR id rule (DESIGN §7 accepts Aidbox's longer ids).
const ID = /^[A-Za-z0-9\-.]{1,255}$/;
const MAX_ENTRIES = 16;

/**
 * The patient in context of a token: Aidbox's `context.patient` (a string, or since 2607 a list
 * of `{id}` / `{url}`), else SMART's top-level `patient` (the token response / introspection
 * response parameter, SMART 2.2 token-introspection). `undefined` when the token names none.
 * A value of another shape makes the token unusable (401), never "no patient".
 */
export function patientContextOf(claims: Readonly<Record<string, unknown>>): PatientContext | undefined {
  const context = claims.context;
  const fromContext =
    context !== null && typeof context === 'object' && !Array.isArray(context)
      ? (context as Record<string, unknown>).patient
      : undefined;
  const raw = fromContext ?? claims.patient;
  if (raw === undefined || raw === null) return undefined;
  const ids: string[] = [];
  const urls: string[] = [];
  const entries = Array.isArray(raw) ? raw : [raw];
  if (entries.length === 0 || entries.length > MAX_ENTRIES)
    throw invalid(`a list of 1 to ${MAX_ENTRIES} entries`);
  for (const entry of entries) {
    if (typeof entry === 'string' && !Array.isArray(raw)) {
      if (!ID.test(entry)) throw invalid('a FHIR id');
      ids.push(entry);
    } else if (entry !== null && typeof entry === 'object') {
      const { id, url } = entry as { id?: unknown; url?: unknown };
      if (typeof id === 'string' && ID.test(id) && url === undefined) ids.push(id);
      else if (
        typeof url === 'string' &&
        /^https?:\/\/\S+\/Patient\/[A-Za-z0-9\-.]+$/.test(url) &&
        id === undefined
      )
        urls.push(url);
      else throw invalid('entries {"id": "<FHIR id>"} or {"url": "<absolute Patient URL>"}');
    } else throw invalid('a string or a list of {"id"} / {"url"} entries');
  }
  const first = ids[0] !== undefined ? `Patient/${ids[0]}` : (urls[0] as string);
  return Object.freeze({
    ids: Object.freeze(ids),
    urls: Object.freeze(urls),
    label: entries.length === 1 ? first : `${first} (and ${entries.length - 1} more)`,
  });
}

function invalid(expected: string): SmartError {
  return new SmartError(
    'ERR_SMART_PATIENT_INVALID',
    `The token's patient context (context.patient or patient) is not ${expected}; the token cannot be used.`,
  );
}
