import { AppConfig } from '@app/config';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG } from '@app/config';
import { dataSourceOptions, openDataSource } from './data-source';
import { ApiKeysRepository } from './repositories/api-keys.repository';
import { AuditEventsRepository } from './repositories/audit-events.repository';
import { DatasetsRepository } from './repositories/datasets.repository';
import { ExperimentsRepository } from './repositories/experiments.repository';
import { IdempotencyKeysRepository } from './repositories/idempotency-keys.repository';
import { JobsRepository } from './repositories/jobs.repository';
import { ModelsRepository } from './repositories/models.repository';
import { TenantsRepository } from './repositories/tenants.repository';
import { WebhookDeliveriesRepository } from './repositories/webhook-deliveries.repository';
import { DeploymentsRepository } from './repositories/deployments.repository';

const REPOSITORIES = [TenantsRepository, ApiKeysRepository, JobsRepository, ModelsRepository, ExperimentsRepository, DatasetsRepository, WebhookDeliveriesRepository, DeploymentsRepository, AuditEventsRepository, IdempotencyKeysRepository];

/**
 * The database connection (from the injected APP_CONFIG, migrated on start) and the repositories, global.
 * `forRoot()` returns one shared module object, so importing it from several modules opens a single data source.
 */
@Global()
@Module({})
export class PersistenceModule {
  private static root?: DynamicModule;

  static forRoot(): DynamicModule {
    PersistenceModule.root ??= {
      module: PersistenceModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => ({ ...dataSourceOptions(config), retryAttempts: 5, retryDelay: 2000 }),
          // Our factory instead of TypeORM's migrationsRun: it serialises migrations across processes.
          dataSourceFactory: async (options) => openDataSource(options!),
        }),
      ],
      providers: REPOSITORIES,
      exports: [TypeOrmModule, ...REPOSITORIES],
    };
    return PersistenceModule.root;
  }
}
