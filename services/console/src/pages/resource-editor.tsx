import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiFailure, callApi } from '../api/client.js';
import type { ResourceType } from '../api/types.js';
import { ErrorNote, IssueList } from '../components/issues.js';
import { type EditorHandle, YamlEditor } from '../editor/yaml-editor.js';
import { TEMPLATES } from '../resources/templates.js';
import { type PlacedIssue, placeIssues } from '../yaml/issues.js';

const YAML = 'text/yaml';

/** Props of {@link ResourceEditor}. */
export interface ResourceEditorProps {
  type: ResourceType;
  /** `undefined`: a new resource */
  id?: string;
  /** after a save or delete; `id` of what is now shown, none after a delete */
  onChanged(id?: string): void;
}

/**
 * One resource as YAML. Save is a PUT with `If-Match` on the version loaded (a new one: with
 * `If-None-Match: *`, so an existing resource is never overwritten by accident); a refused save
 * marks each issue at its field. Delete asks first and is conditional too.
 */
export function ResourceEditor({ type, id, onChanged }: ResourceEditorProps) {
  const [text, setText] = useState(id ? '' : TEMPLATES[type]);
  const [newId, setNewId] = useState('');
  const [etag, setEtag] = useState<string>();
  // Bumped when the server's text replaces the editor's (load, save).
  const [revision, setRevision] = useState(0);
  const [issues, setIssues] = useState<PlacedIssue[]>([]);
  const [error, setError] = useState<string>();
  const [status, setStatus] = useState<string>();
  const [busy, setBusy] = useState(false);
  const editor = useRef<EditorHandle | undefined>(undefined);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    if (!id) return;
    callApi<string>('GET', `/${type}/${encodeURIComponent(id)}`, { accept: YAML })
      .then(({ body, headers }) => {
        setText(body);
        setRevision((n) => n + 1);
        setEtag(headers.get('etag') ?? undefined);
      })
      .catch((err: Error) => setError(err.message));
  }, [type, id]);

  const marks = useMemo(
    () =>
      issues.flatMap((p) =>
        p.location
          ? [{ from: p.location.from, to: p.location.to, message: p.issue.diagnostics ?? p.issue.code }]
          : [],
      ),
    [issues],
  );

  async function save(event: Event) {
    event.preventDefault();
    const target = id ?? newId.trim();
    if (!target) {
      setError('Give the new resource an id.');
      return;
    }
    const current = editor.current?.text() ?? text;
    const headers: Record<string, string> = id && etag ? { 'if-match': etag } : { 'if-none-match': '*' };
    setBusy(true);
    setError(undefined);
    setStatus(undefined);
    try {
      const res = await callApi<string>('PUT', `/${type}/${encodeURIComponent(target)}`, {
        body: current,
        contentType: YAML,
        accept: YAML,
        headers,
      });
      setIssues([]);
      setText(res.body);
      setRevision((n) => n + 1);
      setEtag(res.headers.get('etag') ?? undefined);
      setStatus(
        `${res.status === 201 ? 'Created' : 'Saved'} ${type}/${target} (version ${versionOf(res.headers)}).`,
      );
      if (!id) onChanged(target);
    } catch (err) {
      refused(err, current);
    } finally {
      setBusy(false);
    }
  }

  function refused(err: unknown, current: string) {
    if (!(err instanceof ApiFailure)) {
      setError((err as Error).message);
      return;
    }
    if (err.status === 412) {
      setIssues([]);
      setError(
        id
          ? `${type}/${id} changed since you opened it (412). Copy your edits, reload, and apply them again.`
          : `${type}/${newId.trim()} already exists (412): open it from the list to edit it.`,
      );
      return;
    }
    const placed = placeIssues(current, err.issues, type);
    setIssues(placed);
    setError(`Not saved: ${err.status === 422 ? 'the resource is invalid' : err.message} (${err.status}).`);
  }

  async function remove() {
    dialog.current?.close();
    if (!id) return;
    setBusy(true);
    try {
      await callApi('DELETE', `/${type}/${encodeURIComponent(id)}`, {
        headers: etag ? { 'if-match': etag } : {},
      });
      onChanged(undefined);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="resource-editor" onSubmit={save} aria-labelledby="editor-title">
      <h2 id="editor-title">{id ? `${type}/${id}` : `New ${type}`}</h2>
      {id ? null : (
        <div class="field">
          <label for="new-id">Id</label>
          <input
            id="new-id"
            value={newId}
            pattern="[A-Za-z0-9\-.]{1,64}"
            title="1-64 letters, digits, - and ."
            required
            onInput={(e) => setNewId((e.target as HTMLInputElement).value)}
          />
        </div>
      )}
      <YamlEditor
        id="resource-yaml"
        label={`${type} as YAML`}
        value={text}
        revision={revision}
        onChange={setText}
        marks={marks}
        onReady={(handle) => {
          editor.current = handle;
        }}
      />
      <div class="actions">
        <button type="submit" disabled={busy}>
          Save
        </button>
        {id ? (
          <button type="button" class="danger" disabled={busy} onClick={() => dialog.current?.showModal()}>
            Delete…
          </button>
        ) : null}
        <span class="muted">{etag ? `version ${etag.replace(/^W\/"|"$/g, '')}` : 'not saved yet'}</span>
      </div>
      <p role="status" class="ok-note">
        {status}
      </p>
      <ErrorNote message={error} />
      <IssueList title="Validation issues" issues={issues} onReveal={(pos) => editor.current?.reveal(pos)} />
      <dialog ref={dialog} aria-labelledby="delete-title">
        <h3 id="delete-title">Delete {`${type}/${id}`}?</h3>
        <p>Workers stop using it at once. This cannot be undone.</p>
        <div class="actions">
          {/* Cancel first: showModal() focuses it, so Enter on the dialog deletes nothing. */}
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" class="danger" onClick={remove}>
            Delete
          </button>
        </div>
      </dialog>
    </form>
  );
}

function versionOf(headers: Headers): string {
  return (headers.get('etag') ?? '').replace(/^W\/"|"$/g, '') || '?';
}
