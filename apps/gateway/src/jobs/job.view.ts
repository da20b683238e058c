import type { JobStatus, JobType } from '@app/contracts';
import type { JobEntity } from '@app/persistence';
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
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

export function toJobView(job: JobEntity): JobView {
  return {
    job_id: job.id,
    type: job.type as JobType,
    status: job.status as JobStatus,
    progress: job.progress,
    current_epoch: job.currentEpoch ?? null,
    total_epochs: job.totalEpochs ?? null,
    metrics: job.metrics ?? null,
    result: job.result ?? null,
    error: job.error ?? null,
    experiment_id: job.experimentId ?? null,
    model_id: job.modelId ?? null,
    created_at: iso(job.createdAt)!,
    started_at: iso(job.startedAt),
    completed_at: iso(job.completedAt),
  };
}
