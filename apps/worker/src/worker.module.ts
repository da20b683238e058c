import { DynamicModule, Module } from '@nestjs/common';
import { AppConfigModule, type AppConfig } from '@app/config';
import { loggingModule } from '@app/config/logging';
import { PersistenceModule } from '@app/persistence';
import { QueueModule, WorkerCoreModule, type QueueModuleOptions } from '@app/queue';
import { StorageModule } from '@app/storage';
import { WorkerMetricsServer } from './worker-metrics.server';

/** The standalone worker: configuration, database, artifact store, the Bull queues and the job consumers; HTTP only for WORKER_METRICS_PORT. */
@Module({})
export class WorkerModule {
  /** `structuredLogs`: log through pino (JSON lines) instead of the logger the caller gave Nest. */
  static forRoot(config: AppConfig, options: QueueModuleOptions & { structuredLogs?: boolean } = {}): DynamicModule {
    const { structuredLogs, ...queue } = options;
    return {
      module: WorkerModule,
      imports: [
        AppConfigModule.forRoot(config),
        PersistenceModule.forRoot(),
        StorageModule.forRoot(),
        QueueModule.forRoot(config, queue),
        WorkerCoreModule,
        ...(structuredLogs ? [loggingModule(config)] : []),
      ],
      providers: [WorkerMetricsServer],
    };
  }
}
