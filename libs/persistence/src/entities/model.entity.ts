import { BACKENDS, ModelBackend } from '@app/contracts';
import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns, oneOf } from './column-types';

/** A compiled model: metadata here, the generated file in the artifact store under `artifactKey`. */
export class ModelEntity {
  id!: string;
  tenantId!: string;
  name!: string;
  backend!: ModelBackend;
  /** The DSL source the model was compiled from. */
  dsl!: string;
  summary!: unknown;
  warnings!: unknown[];
  artifactKey!: string;
  sizeBytes!: number;
  contentType!: string;
  filename!: string;
  jobId!: string | null;
  /** The experiment whose training produced this model; null for a compiled (untrained) model. */
  experimentId!: string | null;
  /** Further downloadable forms by format (`onnx`, `tfjs`, `tensorflow`, `pytorch`, `pytorch_weights`); null for compiled models. */
  formats!: Record<string, ModelFormat> | null;
  /** The sweep (hpo job) that chose this model as its best trial, and the HPO values it chose; null otherwise. */
  sweepId!: string | null;
  hyperparameters!: Record<string, unknown> | null;
  createdAt!: Date;
}

/** One downloadable form of a model. */
export interface ModelFormat {
  key: string;
  contentType: string;
  filename: string;
  sizeBytes: number;
}

export function modelSchema(dialect: Dialect): EntitySchema<ModelEntity> {
  const c = dialectColumns(dialect);
  return new EntitySchema<ModelEntity>({
    name: 'ModelEntity',
    target: ModelEntity,
    tableName: 'models',
    columns: {
      id: c.uuid({ primary: true, primaryKeyConstraintName: 'pk_models' }),
      tenantId: c.uuid({ name: 'tenant_id' }),
      name: { type: 'varchar', length: 200 },
      backend: { type: 'varchar', length: 16 },
      dsl: { type: 'text' },
      summary: c.json(),
      warnings: c.json(),
      artifactKey: { type: 'varchar', length: 512, name: 'artifact_key' },
      sizeBytes: { type: 'integer', name: 'size_bytes' },
      contentType: { type: 'varchar', length: 100, name: 'content_type' },
      filename: { type: 'varchar', length: 255 },
      jobId: c.uuid({ name: 'job_id', nullable: true }),
      experimentId: c.uuid({ name: 'experiment_id', nullable: true }),
      formats: c.json({ nullable: true }),
      sweepId: c.uuid({ name: 'sweep_id', nullable: true }),
      hyperparameters: c.json({ nullable: true }),
      createdAt: c.timestamp({ name: 'created_at' }),
    },
    indices: [
      { name: 'idx_models_tenant_created', columns: ['tenantId', 'createdAt'] },
      { name: 'idx_models_tenant_backend', columns: ['tenantId', 'backend'] },
      { name: 'idx_models_tenant_name', columns: ['tenantId', 'name'] },
    ],
    checks: [{ name: 'chk_models_backend', expression: oneOf('backend', BACKENDS) }],
  });
}
