import { yaml } from '@codemirror/lang-yaml';
import { type Diagnostic, lintGutter, setDiagnostics } from '@codemirror/lint';
import { EditorState, StateEffect, StateField } from '@codemirror/state';
import { Decoration, type DecorationSet, EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { useEffect, useRef } from 'preact/hooks';

/** A problem to show in the editor at a span of the text. */
export interface EditorMark {
  from: number;
  to: number;
  message: string;
}

/** What a page can do with a mounted editor. */
export interface EditorHandle {
  /** Moves the cursor to `pos`, scrolls it into view and focuses the editor. */
  reveal(pos: number): void;
  text(): string;
}

/** Props of {@link YamlEditor}. */
export interface YamlEditorProps {
  /** id of the editable element */
  id: string;
  /** its accessible name (a contenteditable cannot be named by `<label for>`) */
  label: string;
  /** the text at mount, and again whenever {@link YamlEditorProps.revision} changes */
  value: string;
  /**
   * Bump it to replace the document with `value` (a resource loaded or saved). Edits flow out
   * through `onChange` only: echoing them back as `value` would fight the user's typing.
   */
  revision?: number;
  onChange?(text: string): void;
  marks?: readonly EditorMark[];
  onReady?(handle: EditorHandle): void;
  readOnly?: boolean;
}

const NO_MARKS: readonly EditorMark[] = [];

const setIssueLines = StateEffect.define<readonly EditorMark[]>();

/** Whole-line highlight of the lines holding an issue, on top of the lint underline. */
const issueLines = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(lines, tr) {
    let next = lines.map(tr.changes);
    for (const effect of tr.effects) {
      if (!effect.is(setIssueLines)) continue;
      const starts = new Set(
        effect.value.map((m) => tr.state.doc.lineAt(Math.min(m.from, tr.state.doc.length)).from),
      );
      next = Decoration.set(
        [...starts]
          .sort((a, b) => a - b)
          .map((from) => Decoration.line({ class: 'cm-issueLine' }).range(from)),
      );
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/**
 * The editor's look. CodeMirror injects its styles at run time; inside a shadow root it adopts
 * them as constructed style sheets, which a `style-src 'self'` CSP allows (a `<style>` element in
 * the document would be blocked), so the editor lives in one and is styled here.
 */
const theme = EditorView.theme({
  '&': { maxHeight: '55vh', minHeight: '8rem', backgroundColor: '#fff', fontSize: '13px' },
  '.cm-scroller': { fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace' },
  '&.cm-focused': { outline: '3px solid #f0a500', outlineOffset: '-3px' },
  '.cm-issueLine': { backgroundColor: '#fbe7e6' },
});

/**
 * A YAML editor (CodeMirror 6): syntax highlighting, line numbers, search, bracket matching, and
 * issue marks (underline, gutter marker, line highlight). Tab moves focus on, as everywhere else
 * on the page; indent with Ctrl-] / Ctrl-[.
 */
export function YamlEditor({
  id,
  label,
  value,
  revision = 0,
  onChange,
  marks = NO_MARKS,
  onReady,
  readOnly = false,
}: YamlEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | undefined>(undefined);
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    if (!host.current) return;
    const root = host.current.shadowRoot ?? host.current.attachShadow({ mode: 'open' });
    const editor = new EditorView({
      parent: root,
      root,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          theme,
          yaml(),
          lintGutter(),
          issueLines,
          EditorState.readOnly.of(readOnly),
          EditorView.contentAttributes.of({ id, 'aria-label': label, 'aria-multiline': 'true' }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) changed.current?.(update.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = editor;
    onReady?.({
      reveal(pos) {
        const at = Math.min(pos, editor.state.doc.length);
        editor.dispatch({
          selection: { anchor: at },
          effects: EditorView.scrollIntoView(at, { y: 'center' }),
        });
        editor.focus();
      },
      text: () => editor.state.doc.toString(),
    });
    return () => editor.destroy();
  }, []);

  useEffect(() => {
    const editor = view.current;
    if (!editor || editor.state.doc.toString() === value) return;
    editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } });
  }, [revision]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    const length = editor.state.doc.length;
    const diagnostics: Diagnostic[] = marks.map((m) => ({
      from: Math.min(m.from, length),
      to: Math.min(Math.max(m.to, m.from), length),
      severity: 'error',
      message: m.message,
    }));
    editor.dispatch(setDiagnostics(editor.state, diagnostics));
    editor.dispatch({ effects: setIssueLines.of(marks) });
  }, [marks]);

  return <div class="editor" ref={host} />;
}
