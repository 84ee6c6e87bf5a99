import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, callApi } from '../api/client.js';
import type { ResourceType } from '../api/types.js';
import { type PlacedIssue, placeIssues } from '../yaml/issues.js';
import { TEMPLATES } from './templates.js';
import { warningTexts } from './warnings.js';

const YAML = 'text/yaml';

/** One resource as the editor works on it, and what can be done with it. */
export interface ResourceDocument {
  /** the server's YAML (or the template of a new resource) */
  text: string;
  /** bumped whenever `text` comes from the server, so the editor replaces its document */
  revision: number;
  /** `W/"n"` of the version loaded; `undefined` for a new resource */
  etag: string | undefined;
  issues: PlacedIssue[];
  error: string | undefined;
  status: string | undefined;
  busy: boolean;
  /** PUTs `yaml` as `id` (conditional on the loaded version); true when saved */
  save(yaml: string, id: string): Promise<boolean>;
  /** DELETEs the resource (conditional too); true when deleted */
  remove(): Promise<boolean>;
  fail(message: string): void;
}

/**
 * Loads `type/id` as YAML (or starts a new one from its template) and saves it back: a PUT with
 * `If-Match` on the version loaded, or `If-None-Match: *` for a new one, so nothing is
 * overwritten by accident. A refused save places each OperationOutcome issue in the text.
 */
export function useResource(type: ResourceType, id: string | undefined): ResourceDocument {
  const [text, setText] = useState(id ? '' : TEMPLATES[type]);
  const [revision, setRevision] = useState(0);
  const [etag, setEtag] = useState<string>();
  const [issues, setIssues] = useState<PlacedIssue[]>([]);
  const [error, setError] = useState<string>();
  const [status, setStatus] = useState<string>();
  const [busy, setBusy] = useState(false);

  const loaded = (body: string, headers: Headers) => {
    setText(body);
    setRevision((n) => n + 1);
    setEtag(headers.get('etag') ?? undefined);
  };

  useEffect(() => {
    if (!id) return;
    callApi<string>('GET', `/${type}/${encodeURIComponent(id)}`, { accept: YAML })
      .then(({ body, headers }) => loaded(body, headers))
      .catch((err: Error) => setError(err.message));
  }, [type, id]);

  async function run(action: () => Promise<void>, onError: (err: unknown) => void): Promise<boolean> {
    setBusy(true);
    setError(undefined);
    setStatus(undefined);
    try {
      await action();
      return true;
    } catch (err) {
      onError(err);
      return false;
    } finally {
      setBusy(false);
    }
  }

  const save = (yaml: string, target: string) =>
    run(
      async () => {
        const headers: Record<string, string> = id && etag ? { 'if-match': etag } : { 'if-none-match': '*' };
        const path = `/${type}/${encodeURIComponent(target)}`;
        const res = await callApi<string>('PUT', path, {
          body: yaml,
          contentType: YAML,
          accept: YAML,
          headers,
        });
        setIssues([]);
        loaded(res.body, res.headers);
        const verb = res.status === 201 ? 'Created' : 'Saved';
        // Accepted risks the service names (DESIGN §11) are shown with the confirmation.
        const warnings = warningTexts(res.headers.get('x-authz-warning'));
        const warned = warnings.length === 0 ? '' : ` Warning: ${warnings.join(' Warning: ')}`;
        setStatus(`${verb} ${type}/${target} (version ${versionOf(res.headers.get('etag'))}).${warned}`);
      },
      (err) => {
        if (!(err instanceof ApiFailure)) return setError((err as Error).message);
        if (err.status === 412) {
          setIssues([]);
          return setError(
            id
              ? `${type}/${id} changed since you opened it (412). Copy your edits, reload, and apply them again.`
              : `${type}/${target} already exists (412): open it from the list to edit it.`,
          );
        }
        setIssues(placeIssues(yaml, err.issues, type));
        setError(
          `Not saved: ${err.status === 422 ? 'the resource is invalid' : err.message} (${err.status}).`,
        );
      },
    );

  const remove = () =>
    run(
      async () => {
        if (!id) return;
        const headers: Record<string, string> = etag ? { 'if-match': etag } : {};
        await callApi('DELETE', `/${type}/${encodeURIComponent(id)}`, { headers });
      },
      (err) => setError((err as Error).message),
    );

  return { text, revision, etag, issues, error, status, busy, save, remove, fail: setError };
}

/** `W/"42"` → `42`. */
export function versionOf(etag: string | null | undefined): string {
  return (etag ?? '').replace(/^W\/"|"$/g, '') || '?';
}
