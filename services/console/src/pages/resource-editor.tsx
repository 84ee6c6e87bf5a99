import { useMemo, useRef, useState } from 'preact/hooks';
import type { ResourceType } from '../api/types.js';
import { ConfirmDialog } from '../components/confirm.js';
import { ErrorNote, IssueList } from '../components/issues.js';
import { type EditorHandle, YamlEditor } from '../editor/yaml-editor.js';
import { useResource, versionOf } from '../resources/use-resource.js';

/** Props of {@link ResourceEditor}. */
export interface ResourceEditorProps {
  type: ResourceType;
  /** `undefined`: a new resource */
  id?: string;
  /** after a save or delete; `id` of what is now shown, none after a delete */
  onChanged(id?: string): void;
}

/**
 * One resource as YAML with Save and Delete (after a confirmation). A refused save marks each
 * issue at its field in the editor and lists it with a button that moves the cursor there.
 */
export function ResourceEditor({ type, id, onChanged }: ResourceEditorProps) {
  const doc = useResource(type, id);
  const [newId, setNewId] = useState('');
  const editor = useRef<EditorHandle | undefined>(undefined);
  const dialog = useRef<HTMLDialogElement>(null);

  const marks = useMemo(
    () =>
      doc.issues.flatMap((p) =>
        p.location
          ? [{ from: p.location.from, to: p.location.to, message: p.issue.diagnostics ?? p.issue.code }]
          : [],
      ),
    [doc.issues],
  );

  async function save(event: Event) {
    event.preventDefault();
    const target = id ?? newId.trim();
    if (!target) return doc.fail('Give the new resource an id.');
    const saved = await doc.save(editor.current?.text() ?? doc.text, target);
    if (saved && !id) onChanged(target);
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
        value={doc.text}
        revision={doc.revision}
        marks={marks}
        onReady={(handle) => {
          editor.current = handle;
        }}
      />
      <div class="actions">
        <button type="submit" disabled={doc.busy}>
          Save
        </button>
        {id ? (
          <button
            type="button"
            class="danger"
            disabled={doc.busy}
            onClick={() => dialog.current?.showModal()}
          >
            Delete…
          </button>
        ) : null}
        <span class="muted">{doc.etag ? `version ${versionOf(doc.etag)}` : 'not saved yet'}</span>
      </div>
      <p role="status" class="ok-note">
        {doc.status}
      </p>
      <ErrorNote message={doc.error} />
      <IssueList
        title="Validation issues"
        issues={doc.issues}
        onReveal={(pos) => editor.current?.reveal(pos)}
      />
      <ConfirmDialog
        dialogRef={dialog}
        id="delete"
        title={`Delete ${type}/${id}?`}
        message="Workers stop using it at once. This cannot be undone."
        confirmLabel="Delete"
        onConfirm={async () => {
          if (await doc.remove()) onChanged(undefined);
        }}
      />
    </form>
  );
}
