import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import { api, download, messageOf, NeuralApiError, unwrap, type Schema } from '../api';
import { useLoad } from '../hooks';
import { go, href } from '../router';
import { LayerTable, shapeText } from '../components/LayerTable';
import { Empty, ErrorBox, Show } from '../components/States';
import { DslEditor, type DslEditorHandle, type DslProblem } from '../components/DslEditor';

type Backend = 'tensorflow' | 'pytorch' | 'onnx';
type CompileResult = Schema<'CompileResultDto'>;
type Dataset = Schema<'DatasetDto'>;
type Shape = Array<number | null>;

/** One HPO(...) site of `summary.search_space`. */
interface SearchSite {
  path: string;
  kind: string;
  values?: unknown[];
  low?: number;
  high?: number;
  step?: number;
  default?: unknown;
  line?: number;
  column?: number;
}

/**
 * Every example model file (the DSL's own fixtures: the files of the project's examples directory), bundled at build
 * time and named after its file; mnist first, the default text.
 */
const FILES = import.meta.glob('../../../../libs/dsl/fixtures/examples/*.neural', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const EXAMPLES: Array<{ name: string; source: string }> = Object.entries(FILES)
  .map(([path, source]) => ({ name: path.replace(/^.*\/|\.neural$/g, ''), source }))
  .sort((a, b) => (a.name === 'mnist' ? -1 : b.name === 'mnist' ? 1 : a.name.localeCompare(b.name)));

const BACKENDS: Array<[Backend, string]> = [
  ['tensorflow', 'TensorFlow'],
  ['pytorch', 'PyTorch'],
  ['onnx', 'ONNX'],
];

/** Compile at most this long after the last keystroke: every successful compile registers a model. */
const DEBOUNCE_MS = 600;

type Outcome =
  | { kind: 'empty' }
  | { kind: 'ok'; result: CompileResult; source: string }
  | { kind: 'invalid'; problems: DslProblem[]; source: string; detail: string }
  | { kind: 'failed'; message: string };

const fmt = (n: number | null | undefined) => (n === null || n === undefined ? '—' : n.toLocaleString('en-US'));
const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/** `[null, 26, 26, 32]` → `(None, 26, 26, 32)`; one shape per input when nested. */

function valueText(v: unknown): string {
  if (v === null || v === undefined) return '—';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function rangeText(site: SearchSite): string {
  if (site.kind === 'choice') return (site.values ?? []).map(valueText).join(', ');
  const span = `${valueText(site.low)} to ${valueText(site.high)}`;
  if (site.kind === 'log_range') return `${span} (log scale)`;
  return site.step !== undefined && site.step !== null ? `${span}, step ${valueText(site.step)}` : span;
}

function problemsOf(err: NeuralApiError): DslProblem[] {
  return (err.errors ?? []).map((e) => ({
    line: typeof e.line === 'number' ? e.line : 1,
    column: typeof e.column === 'number' ? e.column : 1,
    message: e.message,
    hint: typeof e.hint === 'string' ? e.hint : undefined,
    severity: 'error' as const,
  }));
}

export function Playground() {
  const [text, setText] = useState(EXAMPLES[0].source);
  const [backend, setBackend] = useState<Backend>('tensorflow');
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);
  const [lastGood, setLastGood] = useState<CompileResult | null>(null);
  const [retry, setRetry] = useState(0);
  const editor = useRef<DslEditorHandle>(null);

  // The compile requested last (backend + text), the text compiled last, and a counter that drops stale answers.
  const lastKey = useRef<string | null>(null);
  const lastText = useRef<string | null>(null);
  const seq = useRef(0);

  useEffect(() => {
    const key = `${backend}\n${text}`;
    if (key === lastKey.current) return;
    if (!text.trim()) {
      lastKey.current = key;
      seq.current++;
      setBusy(false);
      setOutcome({ kind: 'empty' });
      return;
    }
    // A new text waits for typing to pause; a backend change (same text) or a retry compiles at once.
    const delay = lastText.current === null || lastText.current === text ? 0 : DEBOUNCE_MS;
    const timer = setTimeout(() => {
      lastKey.current = key;
      lastText.current = text;
      const mine = ++seq.current;
      setBusy(true);
      unwrap(api().POST('/compile/sync', { body: { dsl_code: text, backend } })).then(
        (result) => {
          if (mine !== seq.current) return;
          setOutcome({ kind: 'ok', result, source: text });
          setLastGood(result);
          setBusy(false);
        },
        (err: unknown) => {
          if (mine !== seq.current) return;
          if (err instanceof NeuralApiError && err.status === 422 && err.errors?.some((e) => typeof e.line === 'number')) {
            setOutcome({ kind: 'invalid', problems: problemsOf(err), source: text, detail: err.detail });
          } else {
            lastKey.current = null; // not the text's fault: allow the same text again
            setOutcome({ kind: 'failed', message: messageOf(err) });
          }
          setBusy(false);
        },
      );
    }, delay);
    return () => clearTimeout(timer);
  }, [text, backend, retry]);

  // Memoised: the editor re-applies its inline diagnostics only when these change, not on every keystroke.
  const problems = useMemo<DslProblem[]>(
    () =>
      outcome?.kind === 'invalid'
        ? outcome.problems
        : outcome?.kind === 'ok'
          ? outcome.result.warnings.map((w) => ({ line: w.line, column: w.column, message: w.message, hint: w.hint, severity: 'warning' as const }))
          : [],
    [outcome],
  );
  const problemsFor = outcome?.kind === 'ok' || outcome?.kind === 'invalid' ? outcome.source : undefined;
  const errorCount = problems.filter((p) => p.severity === 'error').length;
  const warningCount = problems.length - errorCount;

  let status: string;
  if (busy) status = 'Compiling…';
  else if (!outcome) status = 'Waiting to compile…';
  else if (outcome.kind === 'empty') status = 'Nothing to compile: the editor is empty.';
  else if (outcome.kind === 'ok') {
    const s = outcome.result.summary;
    status = `Compiled ${s.name}: ${s.total_params === null ? 'unknown number of' : fmt(s.total_params)} parameters`;
    if (warningCount) status += `, ${plural(warningCount, 'warning')}`;
  } else if (outcome.kind === 'invalid') status = plural(errorCount, 'error');
  else status = `Compile failed: ${outcome.message}`;

  const shown = outcome?.kind === 'ok' ? outcome.result : lastGood;
  const stale = shown !== null && outcome?.kind !== 'ok';

  return (
    <div className="playground">
      <h1>Playground</h1>

      <div className="row pg-examples" role="group" aria-label="Examples">
        <span className="hint">Examples:</span>
        {EXAMPLES.map((ex) => (
          <button key={ex.name} type="button" className="secondary" aria-pressed={text === ex.source} onClick={() => setText(ex.source)}>
            {ex.name}
          </button>
        ))}
      </div>

      <div className="pg-grid">
        <section className="card pg-editor" aria-labelledby="pg-source">
          <div className="row pg-head">
            <h2 id="pg-source">Source</h2>
            <label className="inline">
              Backend
              <select aria-label="Backend" value={backend} onChange={(e) => setBackend(e.target.value as Backend)}>
                {BACKENDS.map(([value, label]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <DslEditor ref={editor} value={text} onChange={setText} problems={problems} problemsFor={problemsFor} describedBy="pg-editor-help" />
          <p id="pg-editor-help" className="hint">
            Compiles {DEBOUNCE_MS} ms after you stop typing. Tab leaves the editor; Ctrl-Shift-M (⌘-Shift-M) lists the problems.
          </p>
        </section>

        <section className="card pg-side" aria-labelledby="pg-diag">
          <h2 id="pg-diag">Diagnostics</h2>
          <p role="status" aria-live="polite" className={`pg-status pg-status-${busy ? 'busy' : (outcome?.kind ?? 'waiting')}`}>
            {busy && <span className="spinner" aria-hidden="true" />}
            {status}
          </p>
          {outcome?.kind === 'failed' && <ErrorBox message={outcome.message} retry={() => setRetry((n) => n + 1)} />}
          <ul aria-label="Diagnostics" className="pg-diagnostics">
            {problems.map((p, i) => (
              <li key={`${p.severity}-${p.line}-${p.column}-${i}`} className={`pg-diag pg-diag-${p.severity}`}>
                <button type="button" className="link" onClick={() => editor.current?.focusAt(p.line, p.column)} title="Go to this position in the editor">
                  Line {p.line}, column {p.column}
                </button>
                : {p.message}
                {p.hint && <span className="pg-hint"> Hint: {p.hint}</span>} <span className={`badge pg-sev-${p.severity}`}>{p.severity}</span>
              </li>
            ))}
          </ul>
          {problems.length === 0 && outcome?.kind === 'ok' && (
            <Empty title="No problems">The model compiles cleanly with the {outcome.result.backend} backend.</Empty>
          )}
          {problems.length === 0 && outcome?.kind !== 'ok' && outcome?.kind !== 'failed' && (
            <Empty title="No diagnostics yet">Errors and warnings appear here, and inline in the editor, after each compile.</Empty>
          )}
          {outcome?.kind === 'invalid' && outcome.detail && <p className="hint">{outcome.detail}</p>}
        </section>
      </div>

      <section className="card" aria-labelledby="pg-model">
        <h2 id="pg-model">Model</h2>
        {!shown ? (
          busy || !outcome ? (
            <div className="state loading">
              <span className="spinner" aria-hidden="true" /> The layer summary appears after the first compile…
            </div>
          ) : (
            <Empty title="No compiled model yet">Fix the problems above, or pick an example, to see the layers.</Empty>
          )
        ) : (
          <ModelView result={shown} stale={stale} />
        )}
      </section>

      <TrainForm text={text} backend={backend} />
    </div>
  );
}

function ModelView({ result, stale }: { result: CompileResult; stale: boolean }) {
  const [showCode, setShowCode] = useState(false);
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const codeId = useId();
  const s = result.summary;
  const sites = (s.search_space ?? []) as unknown as SearchSite[];
  const onnx = result.backend === 'onnx';

  const save = async () => {
    setDownloading(true);
    setDownloadError(null);
    try {
      await download(result.download_url, `${s.name}${onnx ? '.onnx' : result.backend === 'pytorch' ? '_pytorch.py' : '_tensorflow.py'}`);
    } catch (err) {
      setDownloadError(messageOf(err));
    } finally {
      setDownloading(false);
    }
  };

  return (
    <>
      {stale && (
        <p className="hint pg-stale">
          Showing the last successful compile ({s.name}, {result.backend}); the current text does not compile.
        </p>
      )}
      <dl className="pg-facts">
        <div>
          <dt>Name</dt>
          <dd>{s.name}</dd>
        </div>
        <div>
          <dt>Input</dt>
          <dd>
            <code>{shapeText(s.input_shape as Shape | Shape[])}</code>
          </dd>
        </div>
        <div>
          <dt>Output</dt>
          <dd>
            <code>{shapeText(s.output_shape)}</code>
          </dd>
        </div>
        <div>
          <dt>Backend</dt>
          <dd>{result.backend}</dd>
        </div>
        <div>
          <dt>Model</dt>
          <dd>
            <a href={href('models', result.model_id)}>
              <code>{result.model_id.slice(0, 8)}</code>
            </a>
          </dd>
        </div>
      </dl>

      <LayerTable summary={s} />

      {sites.length > 0 && (
        <>
          <h3 className="pg-h3">Search space</h3>
          <div className="table-wrap">
            <table aria-label="Search space">
              <thead>
                <tr>
                  <th scope="col">Path</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Values / range</th>
                  <th scope="col">Default</th>
                  <th scope="col">Position</th>
                </tr>
              </thead>
              <tbody>
                {sites.map((site, i) => (
                  <tr key={`${site.path}-${i}`}>
                    <td>
                      <code>{site.path}</code>
                    </td>
                    <td>{site.kind}</td>
                    <td>{rangeText(site)}</td>
                    <td>{valueText(site.default)}</td>
                    <td>{site.line !== undefined ? `Line ${site.line}, column ${site.column ?? 1}` : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="hint">
            Compiling and plain training use the defaults. <code>POST /jobs/hpo</code> searches this space: start a search on the{' '}
            <a href={href('jobs')}>Jobs page</a>.
          </p>
        </>
      )}

      <div className="row pg-actions">
        <button type="button" onClick={save} disabled={downloading} aria-busy={downloading || undefined}>
          {onnx ? 'Download ONNX' : 'Download code'}
        </button>
        {result.compiled_code !== null && (
          <button type="button" className="secondary" aria-expanded={showCode} aria-controls={codeId} onClick={() => setShowCode((v) => !v)}>
            Show code
          </button>
        )}
        {downloading && <span className="hint">Downloading…</span>}
      </div>
      {downloadError && <ErrorBox message={downloadError} retry={save} />}
      {showCode && result.compiled_code !== null && (
        <pre id={codeId} className="pg-code" tabIndex={0} aria-label={`Compiled ${result.backend} code`}>
          <code>{result.compiled_code}</code>
        </pre>
      )}
    </>
  );
}

function TrainForm({ text, backend }: { text: string; backend: Backend }) {
  const datasets = useLoad(() => unwrap(api().GET('/datasets')).then((d) => d.datasets), []);
  const [dataset, setDataset] = useState('');
  const [epochs, setEpochs] = useState('2');
  const [samples, setSamples] = useState('2000');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; items: string[] } | null>(null);
  const ids = { epochs: useId(), samples: useId() };

  const valueOf = (d: Dataset) => (d.kind === 'upload' ? (d.dataset_id ?? d.name) : d.name);

  return (
    <section className="card pg-train" aria-labelledby="pg-train">
      <h2 id="pg-train">Train</h2>
      <Show value={datasets} what="datasets">
        {(list) => {
          const usable = list.filter((d) => d.available);
          const fallback = usable.find((d) => d.name.toLowerCase() === 'mnist') ?? usable[0];
          const chosen = dataset || (fallback ? valueOf(fallback) : '');
          if (list.length === 0) return <Empty title="No datasets">The server lists no datasets to train on.</Empty>;
          const submit = async (e: FormEvent) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            try {
              const accepted = await unwrap(
                api().POST('/jobs/train', {
                  body: { dsl_code: text, backend, dataset: chosen, training_config: { epochs: Number(epochs), train_samples: Number(samples) } },
                }),
              );
              go('jobs', accepted.job_id);
            } catch (err) {
              const items =
                err instanceof NeuralApiError
                  ? (err.errors ?? []).map((i) =>
                      typeof i.line === 'number'
                        ? `Line ${i.line}, column ${i.column ?? 1}: ${i.message}${i.hint ? ` Hint: ${i.hint}` : ''}`
                        : `${i.field ? `${i.field}: ` : ''}${i.message}`,
                    )
                  : [];
              setError({ message: messageOf(err), items });
            } finally {
              setBusy(false);
            }
          };
          const picked = list.find((d) => valueOf(d) === chosen);
          return (
            <form onSubmit={submit} className="pg-train-form" aria-describedby="pg-train-help">
              <label className="pg-field">
                <span>Dataset</span>
                <select aria-label="Dataset" value={chosen} onChange={(e) => setDataset(e.target.value)} required>
                  {!fallback && <option value="">No dataset available</option>}
                  {list.map((d) => (
                    <option key={`${d.kind}-${valueOf(d)}`} value={valueOf(d)} disabled={!d.available}>
                      {d.name}
                      {d.kind === 'upload' ? ' (upload)' : ''} · {d.train_samples.toLocaleString('en-US')} samples
                      {d.available ? '' : ` — unavailable${d.unavailable_reason ? `: ${d.unavailable_reason}` : ''}`}
                    </option>
                  ))}
                </select>
              </label>
              <div className="pg-field">
                <label htmlFor={ids.epochs}>Epochs</label>
                <input id={ids.epochs} type="number" min={1} step={1} inputMode="numeric" required value={epochs} onChange={(e) => setEpochs(e.target.value)} />
              </div>
              <div className="pg-field">
                <label htmlFor={ids.samples}>Training samples</label>
                <input id={ids.samples} type="number" min={1} step={1} inputMode="numeric" required value={samples} onChange={(e) => setSamples(e.target.value)} />
              </div>
              <div className="pg-field pg-submit">
                <button type="submit" disabled={busy || !chosen || !text.trim()} aria-busy={busy || undefined}>
                  Train
                </button>
                {busy && (
                  <span className="hint" role="status">
                    Starting the job…
                  </span>
                )}
              </div>
              <p id="pg-train-help" className="hint pg-train-help">
                Trains the editor&apos;s text with the {backend} backend
                {picked ? ` on ${picked.name} (${picked.sample_shape.join('×')}, ${picked.task})` : ''}; the job opens on the Jobs page.
              </p>
              {error && (
                <div className="pg-train-error">
                  <ErrorBox message={error.message} />
                  {error.items.length > 0 && (
                    <ul className="pg-error-items" aria-label="Training problems">
                      {error.items.map((m, i) => (
                        <li key={i}>{m}</li>
                      ))}
                    </ul>
                  )}
                </div>
              )}
            </form>
          );
        }}
      </Show>
    </section>
  );
}
