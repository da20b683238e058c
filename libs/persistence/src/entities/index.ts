import { EntitySchema } from 'typeorm';
import { apiKeySchema } from './api-key.entity';
import { auditEventSchema } from './audit-event.entity';
import { Dialect } from './column-types';
import { datasetSchema } from './dataset.entity';
import { deploymentSchema } from './deployment.entity';
import { experimentSchema } from './experiment.entity';
import { idempotencyKeySchema } from './idempotency-key.entity';
import { jobSchema } from './job.entity';
import { modelSchema } from './model.entity';
import { tenantSchema } from './tenant.entity';
import { webhookDeliverySchema } from './webhook-delivery.entity';

export { ApiKeyEntity } from './api-key.entity';
export { AuditEventEntity } from './audit-event.entity';
export { IdempotencyKeyEntity, IDEMPOTENCY_STATES, type IdempotencyState } from './idempotency-key.entity';
export type { Dialect } from './column-types';
export { JobEntity } from './job.entity';
export type { JobError } from './job.entity';
export { ModelEntity, type ModelFormat } from './model.entity';
export { TenantEntity } from './tenant.entity';
export { ExperimentEntity, type ExperimentArtifact } from './experiment.entity';
export { DatasetEntity, DATASET_FORMATS, type DatasetFormat } from './dataset.entity';
export { DeploymentEntity, type DeploymentConfig } from './deployment.entity';
export { WebhookDeliveryEntity, WEBHOOK_EVENTS, DELIVERY_STATUSES, type WebhookEvent, type DeliveryStatus, type DeliveryAttempt } from './webhook-delivery.entity';

/**
 * The mapping of every entity class for one dialect. Built per data source, so a PostgreSQL and a SQLite data
 * source can live in one process (the tests run both).
 */
export function entitySchemas(dialect: Dialect): EntitySchema[] {
  return [
    tenantSchema(dialect),
    apiKeySchema(dialect),
    jobSchema(dialect),
    modelSchema(dialect),
    experimentSchema(dialect),
    datasetSchema(dialect),
    webhookDeliverySchema(dialect),
    deploymentSchema(dialect),
    auditEventSchema(dialect),
    idempotencyKeySchema(dialect),
  ] as EntitySchema[];
}
