import { Module } from '@nestjs/common';
import { DeployJobService } from '../deployments/deploy-job.service';
import { TrainingCoreModule } from '../training/training-core.module';
import { WebhookDeliverer } from '../webhooks/webhook-deliverer.service';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { CompileJobService } from './compile-job.service';
import { CompileCoreModule } from './compile-core.module';
import { JobRegistryModule } from './job-registry.module';
import { Reconciler } from './reconciler.service';
import { WorkerRuntime } from './worker-runtime.service';

/**
 * Everything that consumes jobs: the compile, train, deploy and webhook handlers, the reconciler and the heartbeat. Imported
 * by apps/worker and, in embedded mode, by the gateway process itself. Needs AppConfigModule, PersistenceModule,
 * StorageModule and QueueModule in the app.
 */
@Module({
  imports: [JobRegistryModule, CompileCoreModule, TrainingCoreModule, WebhooksModule],
  providers: [CompileJobService, DeployJobService, WebhookDeliverer, Reconciler, WorkerRuntime],
  exports: [CompileCoreModule, TrainingCoreModule, JobRegistryModule, Reconciler, CompileJobService, WebhookDeliverer],
})
export class WorkerCoreModule {}
