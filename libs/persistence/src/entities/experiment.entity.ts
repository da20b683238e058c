import { BACKENDS, JOB_STATUSES, type JobStatus, type ModelBackend } from '@app/contracts';
import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns, oneOf } from './column-types';
import type { JobError } from './job.entity';

/** One file an experiment produced, kept in the experiment artifact store under `key`. */
export interface ExperimentArtifact {
  name: string;
  key: string;
  contentType: string;
  sizeBytes: number;
}

/** A training run: what was trained on what, how it went epoch by epoch, and what it produced. One per train job. */
export class ExperimentEntity {
  id!: string;
  tenantId!: string;
  /** `experiment_name` of the request (runs sharing it form a group), else the model's name. */
  name!: string;
  jobId!: string;
  /** The trained model registered under /models/, once the run completed. */
  modelId!: string | null;
  /** The sweep whose trial this run is (the sweep's job id); null for a plain training. */
  sweepId!: string | null;
  status!: JobStatus;
  dsl!: string;
  /** The backend the request asked for (`tensorflow`, `pytorch`, `onnx`). */
  backend!: ModelBackend;
  /** Who optimised the weights: `tfjs` or `pytorch`. */
  engine!: string;
  /** The compute backend the engine actually ran on (`wasm`, `cpu`, `tensorflow`, `torch 1.13.0`), once known. */
  computeBackend!: string | null;
  /** Dataset name as requested (a built-in name or an upload's name). */
  dataset!: string;
  datasetId!: string | null;
  seed!: number | null;
  hyperparameters!: Record<string, unknown>;
  /** The resolved TrainingPlan. */
  plan!: Record<string, unknown>;
  /** One row per finished epoch: loss, metrics, val_*, epoch_seconds, samples_per_second, learning_rate. */
  history!: Array<Record<string, number>>;
  finalMetrics!: Record<string, number> | null;
  bestMetrics!: Record<string, number> | null;
  testMetrics!: Record<string, number> | null;
  artifacts!: ExperimentArtifact[];
  /** The last epoch checkpoint (to resume after a lost worker) and its epoch. */
  checkpointKey!: string | null;
  checkpointEpoch!: number | null;
  error!: JobError | null;
  createdAt!: Date;
  startedAt!: Date | null;
  completedAt!: Date | null;
  updatedAt!: Date;
}

export function experimentSchema(dialect: Dialect): EntitySchema<ExperimentEntity> {
  const c = dialectColumns(dialect);
  return new EntitySchema<ExperimentEntity>({
    name: 'ExperimentEntity',
    target: ExperimentEntity,
    tableName: 'experiments',
    columns: {
      id: c.uuid({ primary: true, primaryKeyConstraintName: 'pk_experiments' }),
      tenantId: c.uuid({ name: 'tenant_id' }),
      name: { type: 'varchar', length: 200 },
      jobId: c.uuid({ name: 'job_id' }),
      modelId: c.uuid({ name: 'model_id', nullable: true }),
      sweepId: c.uuid({ name: 'sweep_id', nullable: true }),
      status: { type: 'varchar', length: 16 },
      dsl: { type: 'text' },
      backend: { type: 'varchar', length: 16 },
      engine: { type: 'varchar', length: 16 },
      computeBackend: { type: 'varchar', length: 64, name: 'compute_backend', nullable: true },
      dataset: { type: 'varchar', length: 200 },
      datasetId: c.uuid({ name: 'dataset_id', nullable: true }),
      seed: { type: 'integer', nullable: true },
      hyperparameters: c.json(),
      plan: c.json(),
      history: c.json(),
      finalMetrics: c.json({ name: 'final_metrics', nullable: true }),
      bestMetrics: c.json({ name: 'best_metrics', nullable: true }),
      testMetrics: c.json({ name: 'test_metrics', nullable: true }),
      artifacts: c.json(),
      checkpointKey: { type: 'varchar', length: 512, name: 'checkpoint_key', nullable: true },
      checkpointEpoch: { type: 'integer', name: 'checkpoint_epoch', nullable: true },
      error: c.json({ nullable: true }),
      createdAt: c.timestamp({ name: 'created_at' }),
      startedAt: c.timestamp({ name: 'started_at', nullable: true }),
      completedAt: c.timestamp({ name: 'completed_at', nullable: true }),
      updatedAt: c.timestamp({ name: 'updated_at' }),
    },
    indices: [
      { name: 'idx_experiments_tenant_created', columns: ['tenantId', 'createdAt'] },
      { name: 'idx_experiments_tenant_name', columns: ['tenantId', 'name'] },
      { name: 'idx_experiments_tenant_status', columns: ['tenantId', 'status'] },
      { name: 'uq_experiments_job_id', columns: ['jobId'], unique: true },
      { name: 'idx_experiments_sweep', columns: ['sweepId'] },
    ],
    checks: [
      { name: 'chk_experiments_status', expression: oneOf('status', JOB_STATUSES) },
      { name: 'chk_experiments_backend', expression: oneOf('backend', BACKENDS) },
    ],
  });
}
