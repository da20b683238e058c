import { useEffect, useImperativeHandle, useRef, type Ref } from 'react';
import { basicSetup } from 'codemirror';
import { EditorView } from '@codemirror/view';
import { EditorState, type Text } from '@codemirror/state';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { neural } from '../dsl-language';

/** A problem at a 1-based line and column, as the API reports it. */
export interface DslProblem {
  line: number;
  column: number;
  message: string;
  hint?: string;
  severity: 'error' | 'warning';
}

export interface DslEditorHandle {
  /** Moves the cursor to a 1-based line and column and focuses the editor. */
  focusAt(line: number, column: number): void;
}

/** The document offset of a 1-based line and column, clamped into the document. */
export function offsetOf(doc: Text, line: number, column: number): number {
  const l = doc.line(Math.min(Math.max(1, Math.floor(line) || 1), doc.lines));
  return l.from + Math.min(Math.max(0, (Math.floor(column) || 1) - 1), l.length);
}

/** The range to mark for a problem: the token at its position (a word, a number, a string), else one character. */
export function rangeOf(doc: Text, line: number, column: number): { from: number; to: number } {
  const from = offsetOf(doc, line, column);
  const l = doc.lineAt(from);
  const rest = doc.sliceString(from, l.to);
  const m = /^(?:"[^"]*"?|'[^']*'?|[\w.]+)/.exec(rest);
  if (m) return { from, to: from + m[0].length };
  if (rest.length > 0) return { from, to: from + 1 };
  // At the end of a line: mark the last character of the line, if any.
  if (l.length > 0) return { from: from - 1, to: from };
  return { from, to: from };
}

function toDiagnostics(doc: Text, problems: DslProblem[]): Diagnostic[] {
  return problems.map((p) => ({
    ...rangeOf(doc, p.line, p.column),
    severity: p.severity,
    source: 'neural',
    message: p.hint ? `${p.message} (hint: ${p.hint})` : p.message,
  }));
}

const theme = EditorView.theme({
  '&': { fontSize: '14px', border: '1px solid #9ca3af', borderRadius: '6px', background: '#fff' },
  '&.cm-focused': { outline: '3px solid #93c5fd', outlineOffset: '2px' },
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', minHeight: '18rem', maxHeight: '65vh', overflow: 'auto' },
  '.cm-content': { minHeight: '18rem' },
  '.cm-gutters': { background: '#f3f4f6', color: '#4b5563', borderRight: '1px solid #e5e7eb' },
});

/**
 * A CodeMirror 6 editor of Neural DSL source: highlighting, line numbers, and the API's errors and warnings inline.
 * Tab is left to move focus (keyboard users are never trapped); Ctrl/Cmd-Shift-M opens the problem panel.
 * `problems` are applied when they change (and only if they describe the text shown); while typing, CodeMirror
 * maps them through the edits until the next ones arrive.
 */
export function DslEditor({
  value,
  onChange,
  problems,
  problemsFor,
  label = 'DSL source',
  describedBy,
  ref,
}: {
  value: string;
  onChange: (text: string) => void;
  problems: DslProblem[];
  /** The text `problems` were computed for; they are applied only while the editor shows exactly that text. */
  problemsFor?: string;
  label?: string;
  describedBy?: string;
  ref?: Ref<DslEditorHandle>;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const attrs: Record<string, string> = { 'aria-label': label };
    if (describedBy) attrs['aria-describedby'] = describedBy;
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          neural(),
          lintGutter(),
          theme,
          EditorView.contentAttributes.of(attrs),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) changed.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
    // The editor is created once; `value` changes are applied below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [label, describedBy]);

  // Text set from outside (an example, a reset): replace the document when it differs.
  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const current = v.state.doc.toString();
    if (current !== value) v.dispatch({ changes: { from: 0, to: current.length, insert: value } });
  }, [value]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const fresh = problemsFor === undefined || problemsFor === v.state.doc.toString();
    v.dispatch(setDiagnostics(v.state, fresh ? toDiagnostics(v.state.doc, problems) : []));
  }, [problems, problemsFor]);

  useImperativeHandle(
    ref,
    () => ({
      focusAt(line, column) {
        const v = view.current;
        if (!v) return;
        const pos = offsetOf(v.state.doc, line, column);
        v.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: 'center' }) });
        v.focus();
      },
    }),
    [],
  );

  return <div data-testid="editor" className="dsl-editor" ref={host} />;
}
