import { useEffect, useMemo, useRef, useState } from 'react';
import { api, messageOf, streamEvents, unwrap, type Schema } from '../api';
import { useInterval, useLoad } from '../hooks';
import { href } from '../router';
import { Empty, ErrorBox, Loading, Show, StatusBadge } from '../components/States';
import { Choice, withAll } from '../components/Choice';
import { ExperimentCurves, HistoryTable, JobsProgress, MetricsTable, fmt, fmtDate, mergeHistory, shortId, type HistoryRow } from '../components/ExperimentCurves';
import { SweepView } from '../components/SweepView';

type Job = Schema<'JobDto'>;
type JobStatus = Job['status'];
type JobType = Job['type'];

const STATUSES: JobStatus[] = ['pending', 'running', 'completed', 'failed', 'cancelled', 'pruned'];
const TYPES: JobType[] = ['compile', 'train', 'deploy', 'hpo'];
const TYPE_NAMES: Record<JobType, string> = { compile: 'Compile', train: 'Train', deploy: 'Deploy', hpo: 'Sweep (HPO)' };
export const isActive = (s: string) => s === 'pending' || s === 'running';

export function JobsPage({ params }: { params: string[] }) {
  return params[0] ? <JobPage key={params[0]} jobId={params[0]} /> : <JobList />;
}

/** At most this many rows of the list follow their job's event stream at once. */
const LIVE_ROWS = 20;

/** Live progress of the given jobs from their event streams; `onFinished` when one of them finishes. */
function useLiveProgress(ids: string[], onFinished: () => void): Record<string, { progress: number; epoch: number | null }> {
  const [live, setLive] = useState<Record<string, { progress: number; epoch: number | null }>>({});
  const finished = useRef(onFinished);
  finished.current = onFinished;
  const key = ids.slice(0, LIVE_ROWS).join(',');
  useEffect(() => {
    const controller = new AbortController();
    for (const id of key ? key.split(',') : []) {
      streamEvents(
        `/jobs/${id}/events`,
        (e) => {
          const d = e.data as { progress?: number; epoch?: number; current_epoch?: number | null; status?: string };
          if (e.event === 'progress' || e.event === 'epoch') setLive((m) => ({ ...m, [id]: { progress: d.progress ?? m[id]?.progress ?? 0, epoch: d.epoch ?? m[id]?.epoch ?? null } }));
          if (e.event === 'job' && d.status && !isActive(d.status)) finished.current();
        },
        controller.signal,
      ).catch(() => undefined);
    }
    return () => controller.abort();
  }, [key]);
  return live;
}

function JobList() {
  const [status, setStatus] = useState<JobStatus | ''>('');
  const [type, setType] = useState<JobType | ''>('');
  const jobs = useLoad(
    () => unwrap(api().GET('/jobs', { params: { query: { limit: 200, ...(status ? { status } : {}), ...(type ? { type } : {}) } } })),
    [status, type],
  );
  const running = jobs.state === 'ready' ? jobs.data.jobs.filter((j) => isActive(j.status)).map((j) => j.job_id) : [];
  // Running jobs stream their progress (SSE); the list itself is re-read to see new jobs and finished ones.
  const live = useLiveProgress(running, () => jobs.reload());
  useInterval(() => jobs.reload(), running.length ? 5000 : null);
  const filtered = status !== '' || type !== '';

  return (
    <>
      <h1>Jobs</h1>
      <form className="row filters" aria-label="Filter jobs" onSubmit={(e) => e.preventDefault()}>
        <Choice label="Status" value={status} options={withAll('All statuses', STATUSES)} onChange={setStatus} />
        <Choice label="Type" value={type} options={[['', 'All types'], ...TYPES.map((t) => [t, TYPE_NAMES[t]] as const)]} onChange={setType} />
        {filtered && (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setStatus('');
              setType('');
            }}
          >
            Clear filters
          </button>
        )}
        {running.length > 0 && (
          <span className="hint" aria-live="polite">
            Live: progress streams from the running jobs
          </span>
        )}
      </form>
      <Show value={jobs} what="jobs">
        {(data) =>
          data.jobs.length === 0 ? (
            filtered ? (
              <Empty title="No jobs match these filters">Try another status or type.</Empty>
            ) : (
              <Empty title="No jobs yet — train a model from the Playground">
                <a href="#/playground">Open the Playground</a> to compile, train or sweep a model; its jobs show here.
              </Empty>
            )
          ) : (
            <>
              <p className="hint">
                {data.jobs.length} of {data.total} jobs
              </p>
              <div className="table-wrap">
                <table aria-label="Jobs">
                  <thead>
                    <tr>
                      <th scope="col">Job</th>
                      <th scope="col">Type</th>
                      <th scope="col">Status</th>
                      <th scope="col">Progress</th>
                      <th scope="col">Epoch</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.jobs.map((j) => (
                      <tr key={j.job_id}>
                        <td>
                          <a href={href('jobs', j.job_id)}>
                            <code>{shortId(j.job_id)}</code>
                          </a>
                          {j.sweep_id && (
                            <span className="hint">
                              {' '}
                              trial {j.trial_index ?? '?'} of <a href={href('jobs', j.sweep_id)}>sweep {shortId(j.sweep_id)}</a>
                            </span>
                          )}
                        </td>
                        <td>{TYPE_NAMES[j.type] ?? j.type}</td>
                        <td>
                          <StatusBadge status={j.status} />
                        </td>
                        <td>
                          <JobsProgress value={live[j.job_id]?.progress ?? j.progress} label={`Progress of job ${shortId(j.job_id)}`} />
                        </td>
                        <td className="num">{j.total_epochs ? `${live[j.job_id]?.epoch ?? j.current_epoch ?? 0}/${j.total_epochs}` : '—'}</td>
                        <td>{fmtDate(j.created_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )
        }
      </Show>
    </>
  );
}

interface Progress {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  progress: number;
}

function JobPage({ jobId }: { jobId: string }) {
  const loaded = useLoad(() => unwrap(api().GET('/jobs/{job_id}', { params: { path: { job_id: jobId } } })), [jobId]);
  const [live, setLive] = useState<Job | null>(null);
  const [batch, setBatch] = useState<Progress | null>(null);
  const [liveRows, setLiveRows] = useState<HistoryRow[]>([]);
  const [trialTick, setTrialTick] = useState(0);
  const [streamState, setStreamState] = useState<'idle' | 'open' | 'ended' | 'failed'>('idle');
  const [cancelError, setCancelError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState(false);

  const job: Job | null = live ?? (loaded.state === 'ready' ? loaded.data : null);
  const status = job?.status;
  const running = status ? isActive(status) : false;

  // Live updates while the job is active: SSE; if the stream cannot be read, poll instead.
  useEffect(() => {
    if (!running) return;
    const ctrl = new AbortController();
    setStreamState('open');
    streamEvents(
      `/jobs/${encodeURIComponent(jobId)}/events`,
      (e) => {
        if (e.event === 'job') setLive(e.data as Job);
        else if (e.event === 'progress') setBatch(e.data as Progress);
        else if (e.event === 'epoch') {
          const d = e.data as { epoch: number; metrics: Record<string, number> };
          setLiveRows((rows) => (rows.some((r) => r.epoch === d.epoch) ? rows : [...rows, { ...d.metrics, epoch: d.epoch }]));
        } else if (e.event === 'trial') setTrialTick((t) => t + 1);
      },
      ctrl.signal,
    ).then(
      () => {
        setStreamState('ended');
        // The final state (result, test metrics) once the stream ends.
        unwrap(api().GET('/jobs/{job_id}', { params: { path: { job_id: jobId } } })).then(setLive, () => undefined);
      },
      () => !ctrl.signal.aborted && setStreamState('failed'),
    );
    return () => ctrl.abort();
    // Opened once per active period, not per job change.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [jobId, running]);

  useInterval(
    () => {
      unwrap(api().GET('/jobs/{job_id}', { params: { path: { job_id: jobId } } })).then(setLive, () => undefined);
    },
    running && streamState === 'failed' ? 2000 : null,
  );

  const cancel = async () => {
    setCancelling(true);
    setCancelError(null);
    try {
      setLive(await unwrap(api().DELETE('/jobs/{job_id}', { params: { path: { job_id: jobId } } })));
    } catch (err) {
      setCancelError(messageOf(err));
    } finally {
      setCancelling(false);
    }
  };

  if (!job) {
    if (loaded.state === 'error') return <ErrorBox message={loaded.message} retry={loaded.reload} />;
    return <Loading what="the job" />;
  }

  const epochText = job.total_epochs ? `Epoch ${job.current_epoch ?? 0}/${job.total_epochs}` : null;
  const err = job.error as { code?: string; detail?: string; errors?: unknown } | null;

  return (
    <>
      <p className="hint">
        <a href="#/jobs">← Jobs</a>
      </p>
      <h1>
        {job.type === 'hpo' ? 'Sweep' : `${job.type[0].toUpperCase()}${job.type.slice(1)} job`} <code>{shortId(job.job_id)}</code> <StatusBadge status={job.status} />
      </h1>
      <section className="card" aria-label="Job summary">
        <JobsProgress value={job.progress} label="Job progress" />
        <div className="row job-facts">
          {epochText && <span>{epochText}</span>}
          {running && batch && batch.batches > 0 && (
            <span className="hint">
              batch {batch.batch}/{batch.batches} · loss {fmt(batch.loss)}
            </span>
          )}
          <span className="hint">created {fmtDate(job.created_at)}</span>
          {job.completed_at && <span className="hint">finished {fmtDate(job.completed_at)}</span>}
          {job.worker_id && <span className="hint">worker {job.worker_id}</span>}
          {running && (
            <span className="hint" aria-live="polite">
              {streamState === 'failed' ? 'Live stream unavailable — polling every 2 s' : 'Live'}
            </span>
          )}
        </div>
        <div className="row">
          {job.experiment_id && <a href={href('experiments', job.experiment_id)}>Experiment {shortId(job.experiment_id)}</a>}
          {job.model_id && <a href={href('models', job.model_id)}>Model {shortId(job.model_id)}</a>}
          {job.sweep_id && (
            <a href={href('jobs', job.sweep_id)}>
              Sweep {shortId(job.sweep_id)} (trial {job.trial_index ?? '?'})
            </a>
          )}
          {running && (
            <button type="button" className="danger" onClick={cancel} disabled={cancelling}>
              {cancelling ? 'Cancelling…' : 'Cancel'}
            </button>
          )}
        </div>
        {cancelError && <ErrorBox message={cancelError} />}
      </section>

      {job.status === 'failed' && (
        <div className="state error" role="alert">
          <strong>The job failed{err?.code ? ` (${err.code})` : ''}.</strong> <span>{err?.detail ?? 'No detail was given.'}</span>
          {err?.errors !== undefined && <pre className="error-detail">{JSON.stringify(err.errors, null, 2)}</pre>}
        </div>
      )}

      {job.type === 'hpo' ? (
        <SweepView job={job} tick={trialTick} />
      ) : job.type === 'train' || job.experiment_id ? (
        <TrainView job={job} liveRows={liveRows} />
      ) : (
        job.result && (
          <section className="card">
            <h2>Result</h2>
            <pre className="result">{JSON.stringify(job.result, null, 2)}</pre>
          </section>
        )
      )}

      <Webhooks jobId={jobId} status={job.status} />
    </>
  );
}

function TrainView({ job, liveRows }: { job: Job; liveRows: HistoryRow[] }) {
  const expId = job.experiment_id;
  const finished = !isActive(job.status);
  const exp = useLoad(
    () => (expId ? unwrap(api().GET('/experiments/{experiment_id}', { params: { path: { experiment_id: expId } } })) : Promise.resolve(null)),
    [expId],
  );
  // Read the experiment again once the job finishes: final and test metrics, artifacts.
  const wasFinished = useRef(finished);
  useEffect(() => {
    if (finished && !wasFinished.current) exp.reload();
    wasFinished.current = finished;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [finished]);

  const base = exp.state === 'ready' && exp.data ? (exp.data.history as HistoryRow[]) : [];
  const history = useMemo(() => mergeHistory(base, liveRows), [base, liveRows]);
  const last = history.length ? history[history.length - 1] : (job.metrics as HistoryRow | null);
  const result = (job.result ?? {}) as { final_metrics?: Record<string, unknown>; best_metrics?: Record<string, unknown>; test_metrics?: Record<string, unknown> };
  const e = exp.state === 'ready' ? exp.data : null;

  return (
    <>
      {exp.state === 'loading' && <Loading what="the curves" />}
      {exp.state === 'error' && <ErrorBox message={exp.message} retry={exp.reload} />}
      <ExperimentCurves history={history} />
      <section className="card" aria-labelledby="last-epoch">
        <h2 id="last-epoch">Last epoch{last && typeof last.epoch === 'number' ? ` (${last.epoch})` : ''}</h2>
        <MetricsTable label="Last epoch metrics" sets={[['value', last]]} />
      </section>
      {finished && (
        <section className="card" aria-labelledby="final-metrics">
          <h2 id="final-metrics">Final metrics</h2>
          <MetricsTable
            label="Final metrics"
            sets={[
              ['final', e?.final_metrics ?? result.final_metrics],
              ['best', e?.best_metrics ?? result.best_metrics],
              ['test', e?.test_metrics ?? result.test_metrics],
            ]}
          />
        </section>
      )}
      <HistoryTable history={history} />
    </>
  );
}

function Webhooks({ jobId, status }: { jobId: string; status: string }) {
  const hooks = useLoad(() => unwrap(api().GET('/jobs/{job_id}/webhooks', { params: { path: { job_id: jobId } } })), [jobId]);
  useEffect(() => {
    hooks.reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [status]);
  return (
    <section className="card" aria-labelledby="webhooks">
      <h2 id="webhooks">Webhook deliveries</h2>
      <Show value={hooks} what="webhook deliveries">
        {(data) =>
          data.deliveries.length === 0 ? (
            <Empty title="No webhook deliveries">Give a webhook URL when starting a job to be called on its events.</Empty>
          ) : (
            <div className="table-wrap">
              <table aria-label="Webhook deliveries">
                <thead>
                  <tr>
                    <th scope="col">Event</th>
                    <th scope="col">Status</th>
                    <th scope="col">URL</th>
                    <th scope="col" className="num">
                      Attempts
                    </th>
                    <th scope="col" className="num">
                      Last HTTP
                    </th>
                    <th scope="col">Last error</th>
                    <th scope="col">Created</th>
                    <th scope="col">Delivered</th>
                  </tr>
                </thead>
                <tbody>
                  {data.deliveries.map((d) => (
                    <tr key={d.delivery_id}>
                      <td>{d.event}</td>
                      <td>
                        <span className={`badge delivery-${d.status}`}>{d.status}</span>
                      </td>
                      <td className="url">{d.url}</td>
                      <td className="num" title={d.attempt_log.map((a) => `#${a.attempt} ${a.at}: ${a.status_code ?? a.error ?? '—'} (${a.duration_ms} ms)`).join('\n')}>
                        {d.attempts}/{d.max_attempts}
                      </td>
                      <td className="num">{d.last_status_code ?? '—'}</td>
                      <td>{d.last_error ?? '—'}</td>
                      <td>{fmtDate(d.created_at)}</td>
                      <td>{fmtDate(d.delivered_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Show>
    </section>
  );
}
