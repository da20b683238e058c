import { useEffect, useMemo, useRef, useState } from 'react';
import { api, messageOf, unwrap, type Schema } from '../api';
import { useInterval } from '../hooks';
import { href } from '../router';
import { LineChart, type Series } from './Chart';
import { Empty, ErrorBox, StatusBadge } from './States';
import { epochOf, fmt, shortId, type HistoryRow } from './ExperimentCurves';

type Job = Schema<'JobDto'>;
type Sweep = Schema<'SweepViewDto'>;
type Trial = Schema<'TrialEntryDto'>;

const FINISHED = ['completed', 'failed', 'cancelled', 'pruned'];

/** A sweep's job page body: counts, leaderboard, parameter-vs-metric scatters and every trial's curve. */
export function SweepView({ job, tick }: { job: Job; tick: number }) {
  const sweep = job.sweep as Sweep | null;
  if (!sweep) return <Empty title="No sweep details yet">The sweep’s trials appear once it is planned.</Empty>;
  const board = sweep.leaderboard;
  const paramKeys = [...new Set(board.flatMap((t) => Object.keys(t.params ?? {})))];
  const best = sweep.best;
  const c = sweep.counts;
  return (
    <>
      <section className="card" aria-labelledby="sweep-summary">
        <h2 id="sweep-summary">Sweep</h2>
        <p>
          {sweep.strategy} search, {sweep.parallelism} at once, ranked by <strong>{sweep.metric}</strong> ({sweep.direction === 'max' ? 'higher is better' : 'lower is better'}).
        </p>
        <dl className="sweep-counts">
          {(['total', 'pending', 'running', 'completed', 'pruned', 'failed', 'cancelled'] as const).map((k) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{c[k]}</dd>
            </div>
          ))}
        </dl>
        {best && (
          <p>
            Best so far: trial {best.trial} with {sweep.metric} = <strong>{fmt(best.value)}</strong>
            {best.experiment_id && (
              <>
                {' '}
                (<a href={href('experiments', best.experiment_id)}>experiment {shortId(best.experiment_id)}</a>)
              </>
            )}
            {sweep.model_id && (
              <>
                {' '}
                · <a href={href('models', sweep.model_id)}>model {shortId(sweep.model_id)}</a>
              </>
            )}
          </p>
        )}
      </section>

      <section className="card" aria-labelledby="leaderboard-h">
        <h2 id="leaderboard-h">Leaderboard</h2>
        {board.length === 0 ? (
          <Empty title="No trials yet" />
        ) : (
          <div className="table-wrap">
            <table aria-label="Leaderboard" className="leaderboard">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    Rank
                  </th>
                  <th scope="col">Trial</th>
                  <th scope="col">Status</th>
                  {paramKeys.map((k) => (
                    <th key={k} scope="col">
                      {k}
                    </th>
                  ))}
                  <th scope="col" className="num">
                    {sweep.metric}
                  </th>
                  <th scope="col" className="num">
                    Epochs
                  </th>
                  <th scope="col">Worker</th>
                </tr>
              </thead>
              <tbody>
                {board.map((t, i) => {
                  const isBest = !!best && best.job_id === t.job_id;
                  const ranked = t.status === 'completed' || t.status === 'pruned';
                  return (
                    <tr key={t.job_id} className={isBest ? 'best-row' : undefined} aria-label={isBest ? `Trial ${t.trial} (best)` : undefined}>
                      <td className="num">{ranked ? i + 1 : '—'}</td>
                      <td>
                        <a href={href('jobs', t.job_id)}>trial {t.trial}</a>
                        {isBest && <span className="badge best-badge"> ★ best</span>}
                        {t.experiment_id && (
                          <>
                            {' '}
                            <a className="hint" href={href('experiments', t.experiment_id)} aria-label={`Experiment of trial ${t.trial}`}>
                              exp
                            </a>
                          </>
                        )}
                      </td>
                      <td>
                        {t.status === 'pruned' ? (
                          <span className="badge status-pruned">pruned at epoch {t.pruned_at_epoch ?? t.epochs}</span>
                        ) : (
                          <StatusBadge status={t.status} />
                        )}
                        {t.error && <span className="hint"> {String((t.error as { detail?: string }).detail ?? '')}</span>}
                      </td>
                      {paramKeys.map((k) => (
                        <td key={k} className={typeof t.params?.[k as keyof typeof t.params] === 'number' ? 'num' : undefined}>
                          {fmt((t.params as Record<string, unknown>)[k])}
                        </td>
                      ))}
                      <td className={`num${isBest ? ' best' : ''}`}>{fmt(t.value)}</td>
                      <td className="num">{t.epochs}</td>
                      <td>{t.worker_id ?? '—'}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {paramKeys.length > 0 && board.some((t) => t.value !== null) && (
        <section className="card" aria-labelledby="scatter-h">
          <h2 id="scatter-h">Parameters vs {sweep.metric}</h2>
          <ScatterLegend />
          <div className="sweep-scatters">
            {paramKeys.map((k) => (
              <SweepScatter key={k} param={k} metric={sweep.metric} trials={board} bestJob={best?.job_id ?? null} />
            ))}
          </div>
        </section>
      )}

      <SweepCurves sweepId={job.job_id} metric={sweep.metric} trials={board} active={!FINISHED.includes(job.status)} tick={tick} />
    </>
  );
}

function ScatterLegend() {
  return (
    <ul className="sweep-legend" aria-label="Legend">
      <li>
        <svg width="14" height="14" aria-hidden="true">
          <circle cx="7" cy="7" r="5" fill="#2563eb" />
        </svg>{' '}
        completed
      </li>
      <li>
        <svg width="14" height="14" aria-hidden="true">
          <circle cx="7" cy="7" r="5" fill="none" stroke="#ea580c" strokeWidth="2" />
        </svg>{' '}
        pruned (hollow)
      </li>
      <li>
        <svg width="14" height="14" aria-hidden="true">
          <circle cx="7" cy="7" r="5" fill="#9ca3af" />
        </svg>{' '}
        running / other
      </li>
      <li>
        <svg width="14" height="14" aria-hidden="true">
          <circle cx="7" cy="7" r="4" fill="#16a34a" stroke="#111827" strokeWidth="2" />
        </svg>{' '}
        best
      </li>
    </ul>
  );
}

/** One parameter against the sweep metric: numbers on a linear (or log, when they span decades) axis, others as categories. */
export function SweepScatter({ param, metric, trials, bestJob }: { param: string; metric: string; trials: Trial[]; bestJob: string | null }) {
  const pts = trials.filter((t) => typeof t.value === 'number' && (t.params as Record<string, unknown>)[param] !== undefined);
  const W = 300;
  const H = 200;
  const m = { l: 48, r: 12, t: 10, b: 36 };
  const raw = pts.map((t) => (t.params as Record<string, unknown>)[param]);
  const numeric = raw.every((v) => typeof v === 'number');
  const ys = pts.map((t) => t.value as number);
  let yMin = Math.min(...ys);
  let yMax = Math.max(...ys);
  if (yMin === yMax) {
    yMin -= Math.abs(yMin) * 0.05 || 0.5;
    yMax += Math.abs(yMax) * 0.05 || 0.5;
  }
  const sy = (v: number) => m.t + (1 - (v - yMin) / (yMax - yMin)) * (H - m.t - m.b);
  let sx: (v: unknown) => number;
  let ticks: Array<[number, string]>;
  if (numeric) {
    const xs = raw as number[];
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    const log = lo > 0 && hi / lo >= 100;
    const f = (v: number) => (log ? Math.log10(v) : v);
    let a = f(lo);
    let b = f(hi);
    if (a === b) {
      a -= 1;
      b += 1;
    }
    sx = (v) => m.l + ((f(v as number) - a) / (b - a)) * (W - m.l - m.r);
    ticks = [...new Set([lo, hi])].map((v) => [sx(v), fmt(v)]);
    if (log) ticks.push([W - m.r, '(log)']);
  } else {
    const cats = [...new Set(raw.map((v) => fmt(v)))];
    const step = (W - m.l - m.r) / cats.length;
    sx = (v) => m.l + step * (cats.indexOf(fmt(v)) + 0.5);
    ticks = cats.map((c) => [sx(c), c]);
  }
  return (
    <figure className="sweep-scatter">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${param} vs ${metric}`} data-points={pts.length}>
        <line x1={m.l} y1={H - m.b} x2={W - m.r} y2={H - m.b} stroke="#9ca3af" />
        <line x1={m.l} y1={m.t} x2={m.l} y2={H - m.b} stroke="#9ca3af" />
        <text x={m.l - 4} y={sy(yMax) + 4} textAnchor="end" fontSize="10">
          {fmt(yMax)}
        </text>
        <text x={m.l - 4} y={sy(yMin)} textAnchor="end" fontSize="10">
          {fmt(yMin)}
        </text>
        {ticks.map(([x, t], i) => (
          <text key={i} x={x} y={H - m.b + 14} textAnchor="middle" fontSize="10">
            {t}
          </text>
        ))}
        <text x={(W + m.l) / 2} y={H - 4} textAnchor="middle" fontSize="11" fill="#4b5563">
          {param}
        </text>
        {pts.map((t) => {
          const x = sx((t.params as Record<string, unknown>)[param]);
          const y = sy(t.value as number);
          const isBest = t.job_id === bestJob;
          const pruned = t.status === 'pruned';
          const fill = isBest ? '#16a34a' : pruned ? 'none' : t.status === 'completed' ? '#2563eb' : '#9ca3af';
          return (
            <circle key={t.job_id} cx={x} cy={y} r={isBest ? 6 : 5} fill={fill} fillOpacity={pruned ? 0 : 0.85} stroke={isBest ? '#111827' : pruned ? '#ea580c' : 'none'} strokeWidth={2}>
              <title>
                trial {t.trial} ({t.status === 'pruned' ? `pruned at epoch ${t.pruned_at_epoch ?? t.epochs}` : t.status}): {param} = {fmt((t.params as Record<string, unknown>)[param])}, {metric} = {fmt(t.value)}
              </title>
            </circle>
          );
        })}
      </svg>
      <figcaption className="hint">
        {param} vs {metric}
      </figcaption>
    </figure>
  );
}

/** The sweep metric over epochs, one series per trial, from the trials' experiment histories. */
function SweepCurves({ sweepId, metric, trials, active, tick }: { sweepId: string; metric: string; trials: Trial[]; active: boolean; tick: number }) {
  const [histories, setHistories] = useState<Record<string, { trial: number; status: string; history: HistoryRow[] }>>({});
  const [error, setError] = useState<string | null>(null);
  const cache = useRef(histories);
  cache.current = histories;
  const busy = useRef(false);

  const refresh = async () => {
    if (busy.current) return;
    busy.current = true;
    try {
      const list = await unwrap(api().GET('/experiments', { params: { query: { sweep_id: sweepId, limit: 1000 } } }));
      const trialOf = new Map(trials.filter((t) => t.experiment_id).map((t) => [t.experiment_id!, t.trial]));
      const todo = list.experiments.filter((e) => {
        const had = cache.current[e.experiment_id];
        return !had || !FINISHED.includes(had.status) || had.history.length !== e.epochs_completed;
      });
      const got = await Promise.all(
        todo.map((e) =>
          unwrap(api().GET('/experiments/{experiment_id}', { params: { path: { experiment_id: e.experiment_id } } })).then(
            (x) => [e.experiment_id, { trial: trialOf.get(e.experiment_id) ?? -1, status: x.status, history: x.history as HistoryRow[] }] as const,
          ),
        ),
      );
      if (got.length) setHistories((h) => ({ ...h, ...Object.fromEntries(got) }));
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      busy.current = false;
    }
  };

  useEffect(() => {
    void refresh();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [sweepId, tick, trials.length]);
  useInterval(() => void refresh(), active ? 4000 : null);

  const trialOf = useMemo(() => new Map(trials.filter((t) => t.experiment_id).map((t) => [t.experiment_id!, t.trial])), [trials]);
  const { x, series } = useMemo(() => {
    const entries = Object.entries(histories)
      .map(([id, h]) => ({ id, trial: trialOf.get(id) ?? h.trial, history: h.history }))
      .filter((e) => e.history.some((r) => typeof r[metric] === 'number'))
      .sort((a, b) => a.trial - b.trial);
    const maxEpoch = Math.max(0, ...entries.flatMap((e) => e.history.map((r, i) => epochOf(r, i))));
    const xs = Array.from({ length: maxEpoch }, (_, i) => i + 1);
    const ss: Series[] = entries.map((e) => {
      const byEpoch = new Map(e.history.map((r, i) => [epochOf(r, i), r[metric]]));
      return { label: `trial ${e.trial >= 0 ? e.trial : shortId(e.id)}`, values: xs.map((ep) => (typeof byEpoch.get(ep) === 'number' ? (byEpoch.get(ep) as number) : null)) };
    });
    return { x: xs, series: ss };
  }, [histories, trialOf, metric]);

  return (
    <section className="card" aria-labelledby="trial-curves">
      <h2 id="trial-curves">
        {metric} per trial
      </h2>
      {error && <ErrorBox message={error} retry={() => void refresh()} />}
      {series.length === 0 ? (
        <Empty title="No trial curves yet">Each trial’s {metric} appears here after its first epoch.</Empty>
      ) : (
        <LineChart label={`${metric} per trial`} x={x} series={series} />
      )}
    </section>
  );
}
