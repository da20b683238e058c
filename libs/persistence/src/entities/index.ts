import { EntitySchema } from 'typeorm';
import { apiKeySchema } from './api-key.entity';
import { Dialect } from './column-types';
import { jobSchema } from './job.entity';
import { modelSchema } from './model.entity';
import { tenantSchema } from './tenant.entity';

export { ApiKeyEntity } from './api-key.entity';
export type { Dialect } from './column-types';
export { JobEntity } from './job.entity';
export type { JobError } from './job.entity';
export { ModelEntity } from './model.entity';
export { TenantEntity } from './tenant.entity';

/**
 * The mapping of every entity class for one dialect. Built per data source, so a PostgreSQL and a SQLite data
 * source can live in one process (the tests run both).
 */
export function entitySchemas(dialect: Dialect): EntitySchema[] {
  return [tenantSchema(dialect), apiKeySchema(dialect), jobSchema(dialect), modelSchema(dialect)] as EntitySchema[];
}
