import { DynamicModule, Module } from '@nestjs/common';
import { AppConfigModule, type AppConfig } from '@app/config';
import { PersistenceModule } from '@app/persistence';
import { QueueModule, WorkerCoreModule, type QueueModuleOptions } from '@app/queue';
import { StorageModule } from '@app/storage';

/** The standalone worker: configuration, database, artifact store, the Bull queues and the job consumers. No HTTP. */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig, options: QueueModuleOptions = {}): DynamicModule {
    return {
      module: WorkerModule,
      imports: [AppConfigModule.forRoot(config), PersistenceModule.forRoot(), StorageModule.forRoot(), QueueModule.forRoot(config, options), WorkerCoreModule],
    };
  }
}
