import { BACKENDS, DEPLOYMENT_STATUSES, type DeploymentStatus, type ModelBackend, type OutputKind } from '@app/contracts';
import { EntitySchema } from 'typeorm';
import { Dialect, dialectColumns, oneOf } from './column-types';

/** The seed's `config` of a deployment, with its defaults filled in. */
export interface DeploymentConfig {
  replicas: number;
  memory_limit: string;
  cpu_limit: string;
  port: number;
  health_check_path: string;
  max_replicas?: number;
  target_cpu_utilization?: number;
}

/**
 * A trained model served behind `POST /deployments/{id}/predict`. The deploy job copies the model's ONNX file to
 * `modelKey`, so the deployment keeps serving when the model itself is deleted.
 */
export class DeploymentEntity {
  id!: string;
  tenantId!: string;
  /** Unique per tenant. */
  name!: string;
  modelId!: string;
  experimentId!: string | null;
  /** The deploy job that brought it up. */
  jobId!: string;
  backend!: ModelBackend;
  status!: DeploymentStatus;
  /** Desired serving workers per gateway; 0 while paused. */
  replicas!: number;
  config!: DeploymentConfig;
  environment!: Record<string, string>;
  /** The served ONNX file in the deployment store; null until the deploy job stored it. */
  modelKey!: string | null;
  /** Per instance (no batch dimension); null until deployed. */
  inputShape!: number[] | null;
  outputShape!: number[] | null;
  outputKind!: OutputKind | null;
  error!: { code: string; detail: string } | null;
  createdAt!: Date;
  updatedAt!: Date;
  deployedAt!: Date | null;
}

export function deploymentSchema(dialect: Dialect): EntitySchema<DeploymentEntity> {
  const c = dialectColumns(dialect);
  return new EntitySchema<DeploymentEntity>({
    name: 'DeploymentEntity',
    target: DeploymentEntity,
    tableName: 'deployments',
    columns: {
      id: c.uuid({ primary: true, primaryKeyConstraintName: 'pk_deployments' }),
      tenantId: c.uuid({ name: 'tenant_id' }),
      name: { type: 'varchar', length: 63 },
      modelId: c.uuid({ name: 'model_id' }),
      experimentId: c.uuid({ name: 'experiment_id', nullable: true }),
      jobId: c.uuid({ name: 'job_id' }),
      backend: { type: 'varchar', length: 16 },
      status: { type: 'varchar', length: 16 },
      replicas: { type: 'integer' },
      config: c.json(),
      environment: c.json(),
      modelKey: { type: 'varchar', length: 512, name: 'model_key', nullable: true },
      inputShape: c.json({ name: 'input_shape', nullable: true }),
      outputShape: c.json({ name: 'output_shape', nullable: true }),
      outputKind: { type: 'varchar', length: 16, name: 'output_kind', nullable: true },
      error: c.json({ nullable: true }),
      createdAt: c.timestamp({ name: 'created_at' }),
      updatedAt: c.timestamp({ name: 'updated_at' }),
      deployedAt: c.timestamp({ name: 'deployed_at', nullable: true }),
    },
    indices: [
      { name: 'uq_deployments_tenant_name', columns: ['tenantId', 'name'], unique: true },
      { name: 'idx_deployments_tenant_created', columns: ['tenantId', 'createdAt'] },
      { name: 'idx_deployments_status', columns: ['status'] },
    ],
    checks: [
      { name: 'chk_deployments_status', expression: oneOf('status', DEPLOYMENT_STATUSES) },
      { name: 'chk_deployments_backend', expression: oneOf('backend', BACKENDS) },
      { name: 'chk_deployments_replicas', expression: '"replicas" >= 0' },
    ],
  });
}
