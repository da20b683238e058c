import { Module } from '@nestjs/common';
import { CompileJobService } from './compile-job.service';
import { CompileCoreModule } from './compile-core.module';
import { JobHandlerRegistry } from './job-handler.registry';
import { Reconciler } from './reconciler.service';
import { WorkerRuntime } from './worker-runtime.service';

/**
 * Everything that consumes jobs: the job handlers, the reconciler and the heartbeat. Imported by apps/worker and, in
 * embedded mode, by the gateway process itself. Needs AppConfigModule, PersistenceModule, StorageModule and
 * QueueModule in the app.
 */
@Module({
  imports: [CompileCoreModule],
  providers: [JobHandlerRegistry, CompileJobService, Reconciler, WorkerRuntime],
  exports: [CompileCoreModule, JobHandlerRegistry, Reconciler, CompileJobService],
})
export class WorkerCoreModule {}
