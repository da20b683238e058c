export * from './entities';
export { dataSourceOptions, dialectOf, migrate, openDataSource, MIGRATIONS_TABLE, SQLITE_BUSY_TIMEOUT_MS } from './data-source';
export { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from './migrations';
export { PersistenceModule } from './persistence.module';
export * from './repositories/api-keys.repository';
export * from './repositories/jobs.repository';
export * from './repositories/models.repository';
export * from './repositories/tenants.repository';
export { isUuid, type Page, type PageQuery } from './repositories/repository.utils';
