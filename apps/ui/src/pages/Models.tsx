import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, download, messageOf, unwrap, type Schema } from '../api';
import { useLoad } from '../hooks';
import { go, href } from '../router';
import { LayerTable, shapeText, type LayerSummary } from '../components/LayerTable';
import { Empty, ErrorBox, Show } from '../components/States';
import { Choice, withAll } from '../components/Choice';

type Backend = Schema<'ModelDto'>['backend'];
type Model = Schema<'ModelDto'>;
type ModelItem = Schema<'ModelListItemDto'>;

const BACKENDS: Backend[] = ['tensorflow', 'pytorch', 'onnx'];
const PAGE = 50;

const FORMAT_LABELS: Record<string, string> = {
  code: 'the model’s own file',
  onnx: 'ONNX',
  tfjs: 'TensorFlow.js (zip)',
  tensorflow: 'TensorFlow code',
  pytorch: 'PyTorch code',
  pytorch_weights: 'PyTorch trained weights',
};

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

const count = (n: number | null | undefined) => (n === null || n === undefined ? '—' : n.toLocaleString());
const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

/** A deployment name from a model name: lowercase letters, digits and '-', at most 63, starting with a letter or digit. */
export function deploymentNameFor(name: string): string {
  const slug = name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return slug || 'model';
}

export function ModelsPage({ params }: { params: string[] }) {
  return params[0] ? <ModelView id={params[0]} /> : <ModelList />;
}

function ModelList() {
  const [backend, setBackend] = useState<Backend | ''>('');
  const [skip, setSkip] = useState(0);
  const list = useLoad(
    () => unwrap(api().GET('/models', { params: { query: { skip, limit: PAGE, ...(backend ? { backend } : {}) } } })),
    [backend, skip],
  );
  return (
    <section aria-labelledby="models-title">
      <h1 id="models-title">Models</h1>
      <div className="row toolbar">
        <Choice
          label="Backend"
          value={backend}
          options={withAll('All backends', BACKENDS)}
          onChange={(v) => {
            setBackend(v);
            setSkip(0);
          }}
        />
      </div>
      <Show value={list} what="models">
        {(data) =>
          data.models.length === 0 ? (
            backend ? (
              <Empty title={`No ${backend} models.`}>
                <button type="button" className="link" onClick={() => setBackend('')}>
                  Show all backends
                </button>
              </Empty>
            ) : (
              <Empty title="No models yet — compile or train one in the Playground">
                <p className="hint">Compiling DSL code saves a model; a training job saves a trained one that you can deploy.</p>
                <a href={href('playground')}>Open the Playground</a>
              </Empty>
            )
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <caption className="sr-only">Models{backend ? ` (${backend})` : ''}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Backend</th>
                      <th scope="col">Trained</th>
                      <th scope="col" className="num">
                        Params
                      </th>
                      <th scope="col" className="num">
                        Size
                      </th>
                      <th scope="col">Formats</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.models.map((m: ModelItem) => (
                      <tr key={m.model_id}>
                        <td>
                          <a href={href('models', m.model_id)}>{m.name}</a>
                          {m.sweep_id && <span className="badge tag">sweep best</span>}
                        </td>
                        <td>{m.backend}</td>
                        <td>{m.trained ? <span className="badge status-completed">yes</span> : <span className="badge">no</span>}</td>
                        <td className="num">{count(m.total_params)}</td>
                        <td className="num">{formatBytes(m.size_bytes)}</td>
                        <td className="formats">{m.formats.join(', ') || '—'}</td>
                        <td>
                          <time dateTime={m.created_at}>{when(m.created_at)}</time>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager skip={skip} shown={data.models.length} total={data.total} onSkip={setSkip} what="models" />
            </>
          )
        }
      </Show>
    </section>
  );
}

export function Pager({ skip, shown, total, onSkip, what }: { skip: number; shown: number; total: number; onSkip: (skip: number) => void; what: string }) {
  return (
    <div className="row pager">
      <span className="hint" aria-live="polite">
        {total === 0 ? `No ${what}` : `${skip + 1}–${skip + shown} of ${total} ${what}`}
      </span>
      {total > PAGE && (
        <>
          <button type="button" className="secondary" disabled={skip === 0} onClick={() => onSkip(Math.max(0, skip - PAGE))}>
            Previous page
          </button>
          <button type="button" className="secondary" disabled={skip + shown >= total} onClick={() => onSkip(skip + PAGE)}>
            Next page
          </button>
        </>
      )}
    </div>
  );
}

function ModelView({ id }: { id: string }) {
  const model = useLoad(() => unwrap(api().GET('/models/{model_id}', { params: { path: { model_id: id } } })), [id]);
  return (
    <section aria-labelledby="model-title">
      <p className="crumbs">
        <a href={href('models')}>← Models</a>
      </p>
      <Show value={model} what="the model">
        {(m) => <ModelDetails m={m} />}
      </Show>
    </section>
  );
}

function ModelDetails({ m }: { m: Model }) {
  const s = m.summary;
  const hp = m.hyperparameters && Object.keys(m.hyperparameters).length ? (m.hyperparameters as Record<string, unknown>) : null;
  return (
    <>
      <h1 id="model-title">{m.name}</h1>
      <dl className="facts">
        <div>
          <dt>Backend</dt>
          <dd>{m.backend}</dd>
        </div>
        <div>
          <dt>Trained</dt>
          <dd>{m.trained ? 'yes — has trained weights' : 'no — compiled only'}</dd>
        </div>
        <div>
          <dt>Parameters</dt>
          <dd>
            {count(s.total_params ?? m.total_params)}
            {s.trainable_params !== null && s.trainable_params !== s.total_params && <> ({count(s.trainable_params)} trainable)</>}
          </dd>
        </div>
        <div>
          <dt>Input shape</dt>
          <dd>
            <code>{shapeText(s.input_shape)}</code>
          </dd>
        </div>
        <div>
          <dt>Output shape</dt>
          <dd>
            <code>{shapeText(s.output_shape)}</code>
          </dd>
        </div>
        <div>
          <dt>File</dt>
          <dd>
            {m.filename} ({formatBytes(m.size_bytes)})
          </dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <time dateTime={m.created_at}>{when(m.created_at)}</time>
          </dd>
        </div>
        {m.experiment_id && (
          <div>
            <dt>Experiment</dt>
            <dd>
              <a href={href('experiments', m.experiment_id)}>{m.experiment_id.slice(0, 8)}</a>
            </dd>
          </div>
        )}
        {m.job_id && (
          <div>
            <dt>Job</dt>
            <dd>
              <a href={href('jobs', m.job_id)}>{m.job_id.slice(0, 8)}</a>
            </dd>
          </div>
        )}
        {m.sweep_id && (
          <div>
            <dt>Sweep</dt>
            <dd>best trial of sweep {m.sweep_id.slice(0, 8)}</dd>
          </div>
        )}
      </dl>

      <div className="grid2">
        <div>
          {m.trained ? (
            <DeployForm m={m} />
          ) : (
            <div className="card">
              <h2>Deploy</h2>
              <p className="note" role="note">
                This model cannot be deployed: it was compiled but never trained, so it has no weights to serve. Train it from the{' '}
                <a href={href('playground')}>Playground</a> (or start a training job); the trained model appears in this list and can be deployed.
              </p>
            </div>
          )}
          <Downloads m={m} />
        </div>
        <div>
          {hp && (
            <div className="card">
              <h2>Hyperparameters</h2>
              <p className="hint">The values the sweep chose for its best trial (also written into the DSL below).</p>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Parameter</th>
                      <th scope="col">Value</th>
                    </tr>
                  </thead>
                  <tbody>
                    {Object.entries(hp).map(([k, v]) => (
                      <tr key={k}>
                        <td>
                          <code>{k}</code>
                        </td>
                        <td>
                          <code>{typeof v === 'string' ? v : JSON.stringify(v)}</code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </div>
          )}
          {m.warnings.length > 0 && (
            <div className="card">
              <h2>Warnings</h2>
              <ul>
                {m.warnings.map((w, i) => (
                  <li key={i}>{describeWarning(w)}</li>
                ))}
              </ul>
            </div>
          )}
          <DeleteModel m={m} />
        </div>
      </div>

      <h2>Layers</h2>
      <LayerTable summary={s as LayerSummary} />

      <h2 id="dsl-title">DSL</h2>
      <pre className="code" tabIndex={0} aria-labelledby="dsl-title">
        {m.dsl_code}
      </pre>
    </>
  );
}

function describeWarning(w: unknown): string {
  if (w && typeof w === 'object') {
    const o = w as { message?: string; line?: number; column?: number };
    const at = o.line ? `line ${o.line}${o.column ? `:${o.column}` : ''}: ` : '';
    return `${at}${o.message ?? JSON.stringify(w)}`;
  }
  return String(w);
}

function Downloads({ m }: { m: Model }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const get = async (format: string) => {
    setBusy(format);
    setError(null);
    try {
      await download(`/models/${encodeURIComponent(m.model_id)}/download?format=${encodeURIComponent(format)}`, `${m.name}-${format}`);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(null);
    }
  };
  return (
    <div className="card">
      <h2>Downloads</h2>
      {m.formats.length === 0 ? (
        <p className="hint">No formats to download.</p>
      ) : (
        <ul className="downloads">
          {m.formats.map((f) => (
            <li key={f}>
              <button type="button" className="secondary" onClick={() => get(f)} disabled={busy !== null} aria-describedby={`fmt-${f}`}>
                {busy === f ? `Downloading ${f}…` : `Download ${f}`}
              </button>{' '}
              <span id={`fmt-${f}`} className="hint">
                {FORMAT_LABELS[f] ?? f}
              </span>
            </li>
          ))}
        </ul>
      )}
      {error && <ErrorBox message={error} />}
    </div>
  );
}

function DeployForm({ m }: { m: Model }) {
  const [name, setName] = useState(() => deploymentNameFor(m.name));
  const [replicas, setReplicas] = useState('1');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const d = await unwrap(
        api().POST('/deployments', {
          body: { model_id: m.model_id, deployment_name: name.trim(), config: { replicas: Number(replicas) } } as Schema<'CreateDeploymentDto'>,
        }),
      );
      go('deployments', d.deployment_id);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  return (
    <form className="card deploy-form" onSubmit={submit} aria-labelledby="deploy-title">
      <h2 id="deploy-title">Deploy</h2>
      <p className="hint">Serves the model’s ONNX export in ONNX Runtime behind a predict endpoint.</p>
      <div className="field">
        <label htmlFor="deploy-name">Deployment name</label>
        <input
          id="deploy-name"
          type="text"
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
          maxLength={63}
          pattern="[a-z0-9][a-z0-9\-]*"
          aria-describedby="deploy-name-help"
          autoComplete="off"
          spellCheck={false}
        />
        <span id="deploy-name-help" className="hint">
          Lowercase letters, digits and “-”, starting with a letter or digit; unique among your deployments.
        </span>
      </div>
      <div className="field">
        <label htmlFor="deploy-replicas">Replicas</label>
        <input id="deploy-replicas" type="number" min={0} step={1} value={replicas} onChange={(e) => setReplicas(e.target.value)} required inputMode="numeric" />
      </div>
      {error && (
        <p className="state error" role="alert">
          <strong>Could not deploy.</strong> {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Deploying…' : 'Deploy'}
      </button>
    </form>
  );
}

function DeleteModel({ m }: { m: Model }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const yes = useRef<HTMLButtonElement>(null);
  const ask = useRef<HTMLButtonElement>(null);
  const wasConfirming = useRef(false);
  useEffect(() => {
    if (confirming) yes.current?.focus();
    else if (wasConfirming.current) ask.current?.focus();
    wasConfirming.current = confirming;
  }, [confirming]);
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await unwrap(api().DELETE('/models/{model_id}', { params: { path: { model_id: m.model_id } } }));
      go('models');
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  return (
    <div className="card danger-zone">
      <h2>Delete</h2>
      {!confirming ? (
        <button ref={ask} type="button" className="danger" onClick={() => setConfirming(true)}>
          Delete model
        </button>
      ) : (
        <div role="group" aria-labelledby="delete-q">
          <p id="delete-q">
            Delete <strong>{m.name}</strong> and its files permanently? This cannot be undone.
          </p>
          <div className="row">
            <button ref={yes} type="button" className="danger" onClick={remove} disabled={busy}>
              {busy ? 'Deleting…' : 'Yes, delete'}
            </button>
            <button type="button" className="secondary" onClick={() => setConfirming(false)} disabled={busy}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {error && <ErrorBox message={error} />}
    </div>
  );
}
