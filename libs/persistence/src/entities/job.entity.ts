import { JOB_STATUSES, JOB_TYPES, JobStatus, JobType } from '@app/contracts';
import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns, oneOf } from './column-types';

/** Why a job failed, as stored and as served in the job's `error` field. */
export interface JobError {
  code: string;
  detail: string;
  errors?: unknown[];
}

/** A unit of asynchronous work. This row, not the queue, is the source of truth for the job's state. */
export class JobEntity {
  id!: string;
  tenantId!: string;
  type!: JobType;
  status!: JobStatus;
  /** 0..100 */
  progress!: number;
  currentEpoch!: number | null;
  totalEpochs!: number | null;
  /** The request the job was created from (a CompileRequest for compile jobs). */
  input!: unknown;
  result!: unknown | null;
  error!: JobError | null;
  metrics!: Record<string, unknown> | null;
  experimentId!: string | null;
  modelId!: string | null;
  webhookUrl!: string | null;
  /** How many times a worker has started the job. */
  attempts!: number;
  /** The sweep (hpo job) a trial belongs to, and its 0-based place in the sweep. */
  sweepId!: string | null;
  trialIndex!: number | null;
  /** The worker that last started the job. */
  workerId!: string | null;
  createdAt!: Date;
  startedAt!: Date | null;
  completedAt!: Date | null;
  updatedAt!: Date;
}

export function jobSchema(dialect: Dialect): EntitySchema<JobEntity> {
  const c = dialectColumns(dialect);
  return new EntitySchema<JobEntity>({
    name: 'JobEntity',
    target: JobEntity,
    tableName: 'jobs',
    columns: {
      id: c.uuid({ primary: true, primaryKeyConstraintName: 'pk_jobs' }),
      tenantId: c.uuid({ name: 'tenant_id' }),
      type: { type: 'varchar', length: 16 },
      status: { type: 'varchar', length: 16 },
      progress: { type: 'integer', default: 0 },
      currentEpoch: { type: 'integer', name: 'current_epoch', nullable: true },
      totalEpochs: { type: 'integer', name: 'total_epochs', nullable: true },
      input: c.json(),
      result: c.json({ nullable: true }),
      error: c.json({ nullable: true }),
      metrics: c.json({ nullable: true }),
      experimentId: c.uuid({ name: 'experiment_id', nullable: true }),
      modelId: c.uuid({ name: 'model_id', nullable: true }),
      webhookUrl: { type: 'varchar', length: 2048, name: 'webhook_url', nullable: true },
      attempts: { type: 'integer', default: 0 },
      sweepId: c.uuid({ name: 'sweep_id', nullable: true }),
      trialIndex: { type: 'integer', name: 'trial_index', nullable: true },
      workerId: { type: 'varchar', length: 128, name: 'worker_id', nullable: true },
      createdAt: c.timestamp({ name: 'created_at' }),
      startedAt: c.timestamp({ name: 'started_at', nullable: true }),
      completedAt: c.timestamp({ name: 'completed_at', nullable: true }),
      updatedAt: c.timestamp({ name: 'updated_at' }),
    },
    indices: [
      { name: 'idx_jobs_tenant_created', columns: ['tenantId', 'createdAt'] },
      { name: 'idx_jobs_tenant_status', columns: ['tenantId', 'status'] },
      { name: 'idx_jobs_tenant_type', columns: ['tenantId', 'type'] },
      { name: 'idx_jobs_status_updated', columns: ['status', 'updatedAt'] },
      // Also what makes launching a trial idempotent: a sweep coordinator that restarts cannot create it twice.
      { name: 'uq_jobs_sweep_trial', columns: ['sweepId', 'trialIndex'], unique: true },
    ],
    checks: [
      { name: 'chk_jobs_type', expression: oneOf('type', JOB_TYPES) },
      { name: 'chk_jobs_status', expression: oneOf('status', JOB_STATUSES) },
      { name: 'chk_jobs_progress', expression: '"progress" BETWEEN 0 AND 100' },
    ],
  });
}
