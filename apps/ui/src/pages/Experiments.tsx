import { useMemo, useState } from 'react';
import { api, download, messageOf, unwrap, type Schema } from '../api';
import { useInterval, useLoad } from '../hooks';
import { href, routeQuery } from '../router';
import { Empty, ErrorBox, Show, StatusBadge } from '../components/States';
import { Choice, withAll } from '../components/Choice';
import { LineChart, type Series } from '../components/Chart';
import { ExperimentCurves, HistoryTable, MetricsTable, epochOf, fmt, fmtDate, shortId, type HistoryRow } from '../components/ExperimentCurves';

type Status = Schema<'ExperimentDto'>['status'];
const STATUSES: Status[] = ['pending', 'running', 'completed', 'failed', 'cancelled', 'pruned'];
const SORTS = ['created_at', 'val_accuracy', 'val_loss', 'accuracy', 'loss'];
const KEY_METRICS = ['val_accuracy', 'val_loss', 'accuracy', 'loss'];

export function ExperimentsPage({ params }: { params: string[] }) {
  if (params[0] === 'compare') return <Compare key={routeQuery().get('ids') ?? ''} ids={(routeQuery().get('ids') ?? '').split(',').map((s) => s.trim()).filter(Boolean)} />;
  if (params[0]) return <ExperimentPage key={params[0]} id={params[0]} />;
  return <ExperimentList />;
}

function ExperimentList() {
  const [name, setName] = useState('');
  const [status, setStatus] = useState<Status | ''>('');
  const [sortBy, setSortBy] = useState('created_at');
  const [order, setOrder] = useState<'asc' | 'desc'>('desc');
  const [selected, setSelected] = useState<string[]>([]);
  const list = useLoad(
    () => unwrap(api().GET('/experiments', { params: { query: { limit: 500, sort_by: sortBy, order, ...(status ? { status } : {}) } } })),
    [status, sortBy, order],
  );
  const active = list.state === 'ready' && list.data.experiments.some((e) => e.status === 'running' || e.status === 'pending');
  useInterval(() => list.reload(), active ? 3000 : null);

  const toggle = (id: string, on: boolean) => setSelected((s) => (on ? [...s.filter((x) => x !== id), id] : s.filter((x) => x !== id)));
  const compare = () => {
    location.hash = `#/experiments/compare?ids=${selected.map(encodeURIComponent).join(',')}`;
  };

  return (
    <>
      <h1>Experiments</h1>
      <form className="row filters" aria-label="Filter experiments" onSubmit={(e) => e.preventDefault()}>
        <label className="inline">
          Name
          <input type="text" value={name} onChange={(e) => setName(e.target.value)} placeholder="contains…" />
        </label>
        <Choice label="Status" value={status} options={withAll('All statuses', STATUSES)} onChange={setStatus} />
        <Choice label="Sort by" value={sortBy} options={SORTS.map((s) => [s, s === 'created_at' ? 'created' : s] as const)} onChange={setSortBy} />
        <Choice label="Order" value={order} options={[['desc', 'descending'], ['asc', 'ascending']] as const} onChange={setOrder} />
        <button type="button" onClick={compare} disabled={selected.length < 2}>
          Compare selected
        </button>
        <span className="hint" aria-live="polite">
          {selected.length} selected{selected.length < 2 ? ' (pick at least 2 to compare)' : ''}
        </span>
      </form>
      <Show value={list} what="experiments">
        {(data) => {
          const needle = name.trim().toLowerCase();
          const rows = needle ? data.experiments.filter((e) => e.name.toLowerCase().includes(needle)) : data.experiments;
          const metricCols = KEY_METRICS.filter((k) => rows.some((e) => typeof (e.final_metrics as Record<string, unknown> | null)?.[k] === 'number'));
          if (data.experiments.length === 0 && !status)
            return (
              <Empty title="No experiments yet">
                Every training run is recorded as an experiment. <a href="#/playground">Train a model from the Playground</a>.
              </Empty>
            );
          if (rows.length === 0) return <Empty title="No experiments match these filters">Try another name or status.</Empty>;
          return (
            <>
              <p className="hint">
                {rows.length} shown of {data.total}
              </p>
              <div className="table-wrap">
                <table aria-label="Experiments">
                  <thead>
                    <tr>
                      <th scope="col">
                        <span className="sr-only">Select</span>
                      </th>
                      <th scope="col">Name</th>
                      <th scope="col">Status</th>
                      {metricCols.map((k) => (
                        <th key={k} scope="col" className="num">
                          {k}
                        </th>
                      ))}
                      <th scope="col" className="num">
                        Epochs
                      </th>
                      <th scope="col">Dataset</th>
                      <th scope="col">Sweep</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((e) => {
                      const on = selected.includes(e.experiment_id);
                      return (
                        <tr key={e.experiment_id} className={on ? 'selected' : undefined}>
                          <td>
                            <input type="checkbox" checked={on} onChange={(ev) => toggle(e.experiment_id, ev.target.checked)} aria-label={`Select ${e.name} (${e.experiment_id.slice(0, 8)})`} />
                          </td>
                          <td>
                            <a href={href('experiments', e.experiment_id)}>{e.name}</a> <code className="hint">{shortId(e.experiment_id)}</code>
                          </td>
                          <td>
                            <StatusBadge status={e.status} />
                          </td>
                          {metricCols.map((k) => (
                            <td key={k} className="num">
                              {fmt((e.final_metrics as Record<string, unknown> | null)?.[k])}
                            </td>
                          ))}
                          <td className="num">{e.epochs_completed}</td>
                          <td>{e.dataset}</td>
                          <td>{e.sweep_id ? <a href={href('jobs', e.sweep_id)}>{shortId(e.sweep_id)}</a> : '—'}</td>
                          <td>{fmtDate(e.created_at)}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </>
          );
        }}
      </Show>
    </>
  );
}

function ExperimentPage({ id }: { id: string }) {
  const exp = useLoad(() => unwrap(api().GET('/experiments/{experiment_id}', { params: { path: { experiment_id: id } } })), [id]);
  const active = exp.state === 'ready' && (exp.data.status === 'running' || exp.data.status === 'pending');
  useInterval(() => exp.reload(), active ? 3000 : null);
  const [dlError, setDlError] = useState<string | null>(null);

  return (
    <>
      <p className="hint">
        <a href="#/experiments">← Experiments</a>
      </p>
      <Show value={exp} what="the experiment">
        {(e) => {
          const hp = Object.entries(e.hyperparameters ?? {});
          const err = e.error as { code?: string; detail?: string } | null;
          return (
            <>
              <h1>
                {e.name} <code className="hint">{shortId(e.experiment_id)}</code> <StatusBadge status={e.status} />
              </h1>
              <section className="card row" aria-label="Experiment summary">
                <span>
                  {e.dataset} · {e.engine}
                  {e.compute_backend ? ` (${e.compute_backend})` : ''} · {e.backend}
                </span>
                <span>{e.epochs_completed} epochs</span>
                {e.seed !== null && <span>seed {e.seed}</span>}
                <span className="hint">created {fmtDate(e.created_at)}</span>
                <a href={href('jobs', e.job_id)}>Job {shortId(e.job_id)}</a>
                {e.model_id && <a href={href('models', e.model_id)}>Model {shortId(e.model_id)}</a>}
                {e.sweep_id && <a href={href('jobs', e.sweep_id)}>Sweep {shortId(e.sweep_id)}</a>}
              </section>
              {e.status === 'failed' && (
                <div className="state error" role="alert">
                  <strong>The run failed{err?.code ? ` (${err.code})` : ''}.</strong> <span>{err?.detail ?? ''}</span>
                </div>
              )}
              <ExperimentCurves history={e.history as HistoryRow[]} />
              <div className="grid2">
                <section className="card" aria-labelledby="hp-h">
                  <h2 id="hp-h">Hyperparameters</h2>
                  {hp.length === 0 ? (
                    <p className="hint">None recorded.</p>
                  ) : (
                    <div className="table-wrap">
                      <table aria-label="Hyperparameters">
                        <tbody>
                          {hp.map(([k, v]) => (
                            <tr key={k}>
                              <th scope="row">{k}</th>
                              <td>{fmt(v)}</td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    </div>
                  )}
                </section>
                <section className="card" aria-labelledby="metrics-h">
                  <h2 id="metrics-h">Metrics</h2>
                  <MetricsTable
                    label="Metrics"
                    sets={[
                      ['final', e.final_metrics as Record<string, unknown> | null],
                      ['best', e.best_metrics as Record<string, unknown> | null],
                      ['test', e.test_metrics as Record<string, unknown> | null],
                    ]}
                  />
                </section>
              </div>
              <section className="card" aria-labelledby="art-h">
                <h2 id="art-h">Artifacts</h2>
                {dlError && <ErrorBox message={dlError} />}
                {e.artifacts.length === 0 ? (
                  <p className="hint">No artifacts{active ? ' yet' : ''}.</p>
                ) : (
                  <div className="table-wrap">
                    <table aria-label="Artifacts">
                      <thead>
                        <tr>
                          <th scope="col">Name</th>
                          <th scope="col">Type</th>
                          <th scope="col" className="num">
                            Size
                          </th>
                          <th scope="col">
                            <span className="sr-only">Download</span>
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {e.artifacts.map((a) => (
                          <tr key={a.name}>
                            <td>{a.name}</td>
                            <td>{a.content_type}</td>
                            <td className="num">{bytes(a.size_bytes)}</td>
                            <td>
                              <button
                                type="button"
                                className="secondary"
                                aria-label={`Download ${a.name}`}
                                onClick={() => {
                                  setDlError(null);
                                  download(a.download_url || `/experiments/${encodeURIComponent(e.experiment_id)}/artifacts/${encodeURIComponent(a.name)}`, a.name).catch((x: unknown) => setDlError(messageOf(x)));
                                }}
                              >
                                Download
                              </button>
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </section>
              <HistoryTable history={e.history as HistoryRow[]} />
            </>
          );
        }}
      </Show>
    </>
  );
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
}

type Compared = Schema<'ComparedExperimentDto'>;

function overlay(exps: Compared[], metric: string, label: (e: Compared) => string): { x: number[]; series: Series[] } {
  const rows = exps.map((e) => (e.history ?? []) as HistoryRow[]);
  const max = Math.max(0, ...rows.flatMap((h) => h.map((r, i) => epochOf(r, i))));
  const x = Array.from({ length: max }, (_, i) => i + 1);
  const series = exps.map((e, j) => {
    const by = new Map(rows[j].map((r, i) => [epochOf(r, i), r[metric]]));
    return { label: label(e), values: x.map((ep) => (typeof by.get(ep) === 'number' ? (by.get(ep) as number) : null)) };
  });
  return { x, series };
}

function Compare({ ids }: { ids: string[] }) {
  const cmp = useLoad(
    () =>
      ids.length < 2
        ? Promise.reject(new Error('Pick at least two experiments to compare.'))
        : unwrap(api().GET('/experiments/{experiment_id}/compare', { params: { path: { experiment_id: ids[0] }, query: { ids: ids.slice(1).join(',') } } })),
    [ids.join(',')],
  );
  return (
    <>
      <p className="hint">
        <a href="#/experiments">← Experiments</a>
      </p>
      <h1>Compare experiments</h1>
      {ids.length < 2 ? (
        <Empty title="Nothing to compare">
          Select two or more experiments in <a href="#/experiments">the list</a> and press “Compare selected”.
        </Empty>
      ) : (
        <Show value={cmp} what="the comparison">
          {(data) => <CompareBody data={data} />}
        </Show>
      )}
    </>
  );
}

function CompareBody({ data }: { data: Schema<'CompareDto'> }) {
  const exps = data.experiments;
  const nameOf = useMemo(() => {
    const m = new Map(exps.map((e) => [e.experiment_id, `${e.name} (${shortId(e.experiment_id)})`]));
    return (id: string) => m.get(id) ?? shortId(id);
  }, [exps]);
  const has = (k: string) => exps.some((e) => ((e.history ?? []) as HistoryRow[]).some((r) => typeof r[k] === 'number'));
  const lossKey = has('loss') ? 'loss' : 'val_loss';
  const mainKey = ['val_accuracy', 'accuracy', 'val_loss'].find(has) ?? null;
  const loss = useMemo(() => overlay(exps, lossKey, (e) => nameOf(e.experiment_id)), [exps, lossKey, nameOf]);
  const main = useMemo(() => (mainKey ? overlay(exps, mainKey, (e) => nameOf(e.experiment_id)) : null), [exps, mainKey, nameOf]);
  const diffs = Object.entries(data.hyperparameter_differences as Record<string, Record<string, unknown>>);
  const finals = Object.entries(data.final_metrics as Record<string, Record<string, unknown>>);
  const best = data.best as Record<string, { experiment_id: string; value: number; goal: 'min' | 'max' }>;

  return (
    <>
      <p className="row">
        {exps.map((e) => (
          <span key={e.experiment_id}>
            <a href={href('experiments', e.experiment_id)}>{nameOf(e.experiment_id)}</a> <StatusBadge status={e.status} />
          </span>
        ))}
      </p>
      <div className="grid2">
        <section className="card" aria-labelledby="cmp-loss">
          <h2 id="cmp-loss">Loss ({lossKey})</h2>
          <LineChart label="Loss" x={loss.x} series={loss.series} />
        </section>
        {main && mainKey && (
          <section className="card" aria-labelledby="cmp-acc">
            <h2 id="cmp-acc">{mainKey.includes('accuracy') ? `Accuracy (${mainKey})` : mainKey}</h2>
            <LineChart label={mainKey.includes('accuracy') ? 'Accuracy' : mainKey} x={main.x} series={main.series} />
          </section>
        )}
      </div>
      <section className="card" aria-labelledby="cmp-hp">
        <h2 id="cmp-hp">Hyperparameters that differ</h2>
        {diffs.length === 0 ? (
          <p className="hint">The experiments share every hyperparameter.</p>
        ) : (
          <div className="table-wrap">
            <table aria-label="Hyperparameters that differ">
              <thead>
                <tr>
                  <th scope="col">Hyperparameter</th>
                  {exps.map((e) => (
                    <th key={e.experiment_id} scope="col">
                      {nameOf(e.experiment_id)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {diffs.map(([k, byExp]) => (
                  <tr key={k}>
                    <th scope="row">{k}</th>
                    {exps.map((e) => (
                      <td key={e.experiment_id}>{fmt(byExp[e.experiment_id])}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section className="card" aria-labelledby="cmp-final">
        <h2 id="cmp-final">Final metrics</h2>
        {finals.length === 0 ? (
          <p className="hint">No final metrics yet.</p>
        ) : (
          <div className="table-wrap">
            <table aria-label="Final metrics">
              <thead>
                <tr>
                  <th scope="col">Metric</th>
                  {exps.map((e) => (
                    <th key={e.experiment_id} scope="col" className="num">
                      {nameOf(e.experiment_id)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {finals.map(([k, byExp]) => (
                  <tr key={k}>
                    <th scope="row">
                      {k}
                      {best[k] && <span className="hint"> ({best[k].goal === 'min' ? 'lower' : 'higher'} is better)</span>}
                    </th>
                    {exps.map((e) => {
                      const isBest = best[k]?.experiment_id === e.experiment_id;
                      return (
                        <td key={e.experiment_id} className={isBest ? 'num best' : 'num'}>
                          {fmt(byExp[e.experiment_id])}
                          {isBest && ' (best)'}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
