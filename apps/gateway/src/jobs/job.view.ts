import type { JobStatus, JobType } from '@app/contracts';
import type { JobEntity } from '@app/persistence';
import type { SweepView } from '@app/queue';
import { iso } from '../common/iso';

/** A job as the API shows it (API.md "Jobs"). */
export interface JobView {
  job_id: string;
  type: JobType;
  status: JobStatus;
  progress: number;
  current_epoch: number | null;
  total_epochs: number | null;
  metrics: unknown;
  result: unknown;
  error: unknown;
  experiment_id: string | null;
  model_id: string | null;
  /** A sweep's trial: the sweep's job id and its place in it. */
  sweep_id: string | null;
  trial_index: number | null;
  /** The worker that last started the job. */
  worker_id: string | null;
  /** A sweep (type hpo): counts, leaderboard and best trial. */
  sweep: SweepView | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

/** `sweep`: the live view of a sweep; without it a sweep shows the view its coordinator last stored. */
export function toJobView(job: JobEntity, sweep?: SweepView): JobView {
  return {
    job_id: job.id,
    type: job.type as JobType,
    status: job.status as JobStatus,
    progress: job.progress,
    current_epoch: job.currentEpoch ?? null,
    total_epochs: job.totalEpochs ?? null,
    metrics: job.metrics ?? null,
    // A sweep's result is its final view, shown as `sweep`.
    result: job.type === 'hpo' ? (job.status === 'completed' ? { model_id: job.modelId, best: (job.result as SweepView | null)?.best ?? null } : null) : (job.result ?? null),
    error: job.error ?? null,
    experiment_id: job.experimentId ?? null,
    model_id: job.modelId ?? null,
    sweep_id: job.sweepId ?? null,
    trial_index: job.trialIndex ?? null,
    worker_id: job.workerId ?? null,
    sweep: job.type === 'hpo' ? (sweep ?? (job.result as SweepView | null) ?? null) : null,
    created_at: iso(job.createdAt)!,
    started_at: iso(job.startedAt),
    completed_at: iso(job.completedAt),
  };
}
