import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, download, messageOf, unwrap, type Schema } from '../api';
import { useInterval, useLoad } from '../hooks';
import { go, href } from '../router';
import { Empty, ErrorBox, Show, StatusBadge } from '../components/States';
import { Choice, withAll } from '../components/Choice';
import { DigitCanvas } from '../components/DigitCanvas';
import { ClassBars, flatten } from '../components/ClassBars';
import { Pager } from './Models';

type Deployment = Schema<'DeploymentDto'>;
type Status = Deployment['status'];
type Prediction = Schema<'PredictResponseDto'>;

const STATUSES: Status[] = ['deploying', 'deployed', 'paused', 'failed'];
const PAGE = 50;

const ms = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`);
const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
const shapeText = (s: number[] | null | undefined) => (s ? `[${s.join(', ')}]` : 'unknown');

/** An instance of zeros in `shape` (nested arrays). */
function zeros(shape: number[]): unknown {
  if (shape.length === 0) return 0;
  const [n, ...rest] = shape;
  return Array.from({ length: n }, () => zeros(rest));
}

const isDigitShape = (s: number[] | null | undefined) => !!s && s[0] === 28 && s[1] === 28 && (s.length === 2 || (s.length === 3 && s[2] === 1));

export function DeploymentsPage({ params }: { params: string[] }) {
  return params[0] ? <DeploymentView id={params[0]} /> : <DeploymentList />;
}

function DeploymentList() {
  const [status, setStatus] = useState<Status | ''>('');
  const [skip, setSkip] = useState(0);
  const list = useLoad(
    () => unwrap(api().GET('/deployments', { params: { query: { skip, limit: PAGE, ...(status ? { status } : {}) } } })),
    [status, skip],
  );
  const deploying = list.state === 'ready' && list.data.deployments.some((d) => d.status === 'deploying');
  useInterval(list.reload, deploying ? 2000 : null);
  return (
    <section aria-labelledby="deployments-title">
      <h1 id="deployments-title">Deployments</h1>
      <div className="row toolbar">
        <Choice
          label="Status"
          value={status}
          options={withAll('All statuses', STATUSES)}
          onChange={(v) => {
            setStatus(v);
            setSkip(0);
          }}
        />
        {deploying && (
          <span className="hint" role="status">
            Refreshing every 2 s while a deployment is starting…
          </span>
        )}
      </div>
      <Show value={list} what="deployments">
        {(data) =>
          data.deployments.length === 0 ? (
            status ? (
              <Empty title={`No ${status} deployments.`}>
                <button type="button" className="link" onClick={() => setStatus('')}>
                  Show all statuses
                </button>
              </Empty>
            ) : (
              <Empty title="No deployments yet">
                <p className="hint">Open a trained model and deploy it to get a predict endpoint.</p>
                <a href={href('models')}>Browse models</a>
              </Empty>
            )
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Status</th>
                      <th scope="col" className="num">
                        Replicas (ready/wanted)
                      </th>
                      <th scope="col" className="num">
                        Requests
                      </th>
                      <th scope="col" className="num">
                        Errors
                      </th>
                      <th scope="col" className="num">
                        p50
                      </th>
                      <th scope="col" className="num">
                        p99
                      </th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.deployments.map((d) => (
                      <tr key={d.deployment_id}>
                        <td>
                          <a href={href('deployments', d.deployment_id)}>{d.deployment_name}</a>
                        </td>
                        <td>
                          <StatusBadge status={d.status} />
                        </td>
                        <td className="num">
                          {d.ready_replicas}/{d.replicas}
                        </td>
                        <td className="num">{d.request_count.toLocaleString()}</td>
                        <td className="num">{d.error_count.toLocaleString()}</td>
                        <td className="num">{ms(d.latency_p50_ms)}</td>
                        <td className="num">{ms(d.latency_p99_ms)}</td>
                        <td>
                          <time dateTime={d.created_at}>{when(d.created_at)}</time>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager skip={skip} shown={data.deployments.length} total={data.total} onSkip={setSkip} what="deployments" />
            </>
          )
        }
      </Show>
    </section>
  );
}

function DeploymentView({ id }: { id: string }) {
  const dep = useLoad(() => unwrap(api().GET('/deployments/{deployment_id}', { params: { path: { deployment_id: id } } })), [id]);
  const deploying = dep.state === 'ready' && dep.data.status === 'deploying';
  useInterval(dep.reload, deploying ? 1000 : null);
  return (
    <section aria-labelledby="deployment-title">
      <p className="crumbs">
        <a href={href('deployments')}>← Deployments</a>
      </p>
      <Show value={dep} what="the deployment">
        {(d) => <DeploymentDetails d={d} reload={dep.reload} />}
      </Show>
    </section>
  );
}

function DeploymentDetails({ d, reload }: { d: Deployment; reload: () => void }) {
  const error = d.error as { code?: string; detail?: string } | null;
  return (
    <>
      <h1 id="deployment-title">
        {d.deployment_name} <StatusBadge status={d.status} />
      </h1>
      <p className="sr-only" role="status" aria-live="polite">
        Status: {d.status}
      </p>
      {d.status === 'deploying' && (
        <div className="state loading" aria-hidden="true">
          <span className="spinner" /> Starting the serving workers… (checking every second)
        </div>
      )}
      {d.status === 'failed' && (
        <div className="state error" role="alert">
          <strong>The deployment failed.</strong>
          <span>
            {error?.detail ?? 'No detail was given.'}
            {error?.code && (
              <>
                {' '}
                (<code>{error.code}</code>)
              </>
            )}
          </span>
          <a href={href('jobs', d.job_id)}>See the deploy job</a>
        </div>
      )}
      {d.status === 'paused' && <p className="note">Paused: scaled to 0 replicas, predictions are refused until you scale up.</p>}

      <div className="grid2">
        <div>
          <div className="card">
            <h2>Serving</h2>
            <dl className="facts">
              <div>
                <dt>Replicas (ready/wanted)</dt>
                <dd>
                  {d.ready_replicas}/{d.replicas}
                </dd>
              </div>
              <div>
                <dt>Requests</dt>
                <dd>{d.request_count.toLocaleString()}</dd>
              </div>
              <div>
                <dt>Errors</dt>
                <dd>{d.error_count.toLocaleString()}</dd>
              </div>
              <div>
                <dt>Latency p50</dt>
                <dd>{ms(d.latency_p50_ms)}</dd>
              </div>
              <div>
                <dt>Latency p99</dt>
                <dd>{ms(d.latency_p99_ms)}</dd>
              </div>
              <div>
                <dt>Input shape</dt>
                <dd>
                  <code>{shapeText(d.input_shape)}</code>
                </dd>
              </div>
              <div>
                <dt>Output</dt>
                <dd>
                  <code>{shapeText(d.output_shape)}</code> {d.output_kind ?? ''}
                </dd>
              </div>
              <div>
                <dt>Endpoint</dt>
                <dd>
                  <code>POST {d.endpoint}</code>
                </dd>
              </div>
              <div>
                <dt>Runtime</dt>
                <dd>{d.runtime}</dd>
              </div>
              <div>
                <dt>Model</dt>
                <dd>
                  <a href={href('models', d.model_id)}>{d.model_id.slice(0, 8)}</a>
                </dd>
              </div>
              <div>
                <dt>Deploy job</dt>
                <dd>
                  <a href={href('jobs', d.job_id)}>{d.job_id.slice(0, 8)}</a>
                </dd>
              </div>
              <div>
                <dt>Ready since</dt>
                <dd>{when(d.deployed_at)}</dd>
              </div>
            </dl>
          </div>
          <ScaleForm d={d} onScaled={reload} />
          <Manage d={d} />
        </div>
        <div>
          <PredictPanel d={d} onPredicted={reload} />
        </div>
      </div>
    </>
  );
}

function ScaleForm({ d, onScaled }: { d: Deployment; onScaled: () => void }) {
  const [replicas, setReplicas] = useState(String(d.replicas));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const r = await unwrap(
        api().POST('/deployments/{deployment_id}/scale', { params: { path: { deployment_id: d.deployment_id } }, body: { replicas: Number(replicas) } }),
      );
      setDone(`Scaled to ${r.replicas} replica${r.replicas === 1 ? '' : 's'}${r.replicas === 0 ? ' (paused)' : ''}.`);
      onScaled();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="scale-title">
      <h2 id="scale-title">Scale</h2>
      <div className="row">
        <label htmlFor="scale-replicas">Replicas</label>
        <input
          id="scale-replicas"
          className="narrow"
          type="number"
          min={0}
          step={1}
          inputMode="numeric"
          required
          value={replicas}
          onChange={(e) => setReplicas(e.target.value)}
          aria-describedby="scale-help"
        />
        <button type="submit" disabled={busy || d.status === 'failed'}>
          {busy ? 'Scaling…' : 'Scale'}
        </button>
      </div>
      <p id="scale-help" className="hint">
        Serving workers per gateway; 0 pauses serving.
      </p>
      <p role="status" className="hint">
        {done}
      </p>
      {error && <ErrorBox message={error} />}
    </form>
  );
}

function Manage({ d }: { d: Deployment }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) yes.current?.focus();
  }, [confirming]);
  const run = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await unwrap(api().DELETE('/deployments/{deployment_id}', { params: { path: { deployment_id: d.deployment_id } } }));
      go('deployments');
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  const base = `/deployments/${encodeURIComponent(d.deployment_id)}`;
  return (
    <div className="card">
      <h2>Manage</h2>
      <div className="row">
        <button type="button" className="secondary" onClick={() => run(() => download(`${base}/manifests`, `${d.deployment_name}.yaml`))}>
          Download Kubernetes manifests
        </button>
        <button type="button" className="secondary" onClick={() => run(() => download(`${base}/model`, `${d.deployment_name}.onnx`))}>
          Download served ONNX
        </button>
      </div>
      <div className="danger-zone">
        {!confirming ? (
          <button type="button" className="danger" onClick={() => setConfirming(true)}>
            Delete deployment
          </button>
        ) : (
          <div role="group" aria-labelledby="del-dep-q">
            <p id="del-dep-q">
              Delete <strong>{d.deployment_name}</strong>? Its endpoint stops answering. The model is kept.
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
      </div>
      {error && <ErrorBox message={error} />}
    </div>
  );
}

function PredictPanel({ d, onPredicted }: { d: Deployment; onPredicted: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [answer, setAnswer] = useState<Prediction | null>(null);
  const digit = isDigitShape(d.input_shape);
  const initial = d.input_shape ? JSON.stringify(zeros(d.input_shape)) : '';
  const [json, setJson] = useState(initial);
  const [jsonError, setJsonError] = useState<string | null>(null);
  const shapeKey = shapeText(d.input_shape);
  useEffect(() => setJson(initial), [shapeKey]); // eslint-disable-line react-hooks/exhaustive-deps

  if (d.status === 'failed') return null;

  const predict = async (instance: unknown) => {
    setBusy(true);
    setError(null);
    try {
      const r = await unwrap(
        api().POST('/deployments/{deployment_id}/predict', { params: { path: { deployment_id: d.deployment_id } }, body: { instances: [instance] } }),
      );
      setAnswer(r);
      onPredicted();
    } catch (err) {
      setError(messageOf(err));
      setAnswer(null);
    } finally {
      setBusy(false);
    }
  };

  const submitJson = (e: FormEvent) => {
    e.preventDefault();
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (err) {
      setJsonError(`Not valid JSON: ${messageOf(err)}`);
      return;
    }
    setJsonError(null);
    void predict(value);
  };

  const jsonForm = (
    <form onSubmit={submitJson} className="json-form">
      <label htmlFor="instance-json">
        Instance JSON — one instance of shape <code>{shapeText(d.input_shape)}</code>, as nested arrays
      </label>
      <textarea
        id="instance-json"
        aria-label="Instance JSON"
        rows={digit ? 8 : 6}
        value={json}
        onChange={(e) => setJson(e.target.value)}
        spellCheck={false}
        aria-invalid={jsonError ? true : undefined}
        aria-describedby={jsonError ? 'instance-json-error' : undefined}
      />
      {jsonError && (
        <p id="instance-json-error" className="field-error" role="alert">
          {jsonError}
        </p>
      )}
      <div className="row">
        <button type="submit" disabled={busy}>
          {busy ? 'Predicting…' : 'Predict'}
        </button>
        <button type="button" className="secondary" onClick={() => setJson(initial)} disabled={busy}>
          Reset to zeros
        </button>
      </div>
    </form>
  );

  const values = answer ? flatten(answer.predictions[0]) : [];
  const predicted = answer?.classes?.[0];

  return (
    <section className="card predict" aria-labelledby="predict-title">
      <h2 id="predict-title">Predict</h2>
      {d.status === 'deploying' && <p className="hint">Predictions open once the deployment is ready.</p>}
      {digit ? (
        <>
          <DigitCanvas onPredict={(instance) => void predict(instance)} busy={busy} channels={d.input_shape!.length === 3} />
          <details className="json-fallback">
            <summary>Enter the instance as JSON instead</summary>
            {jsonForm}
          </details>
        </>
      ) : (
        jsonForm
      )}
      <div aria-live="polite" className="predict-answer">
        {error && (
          <div className="state error" role="alert">
            <strong>Prediction refused.</strong> <span>{error}</span>
          </div>
        )}
        {answer && (
          <>
            <p className="answer-head">
              {predicted !== undefined && values.length > 0 && d.output_kind !== 'raw' && (
                <>
                  Predicted class <strong>{predicted}</strong> ·{' '}
                </>
              )}
              latency <strong>{ms(answer.latency_ms)}</strong>
            </p>
            {values.length > 0 ? <ClassBars values={values} predicted={predicted} kind={d.output_kind} /> : <pre className="code">{JSON.stringify(answer.predictions, null, 1)}</pre>}
          </>
        )}
      </div>
    </section>
  );
}
