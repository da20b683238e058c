import { APP_CONFIG, type AppConfig } from '@app/config';
import { TrainingSandbox } from '@app/training';
import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { JobRegistryModule } from '../jobs/job-registry.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { SweepJobService } from '../sweeps/sweep-job.service';
import { TrainJobService } from './train-job.service';
import { WorkerCapabilities } from './worker-capabilities.service';

/** Closes the training processes last, after the jobs using them have been handed back. */
class SandboxCloser implements OnApplicationShutdown {
  constructor(private readonly sandbox: TrainingSandbox) {}
  onApplicationShutdown(): Promise<void> {
    return this.sandbox.close();
  }
}

/** Train jobs, the processes they run in, and the sweeps that launch them. Needs the persistence, storage and queue modules in the app. */
@Module({
  imports: [JobRegistryModule, WebhooksModule],
  providers: [
    {
      provide: TrainingSandbox,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new TrainingSandbox({ processes: config.training.concurrency, maxHeapMb: config.training.maxHeapMb, backend: config.training.backend }),
    },
    { provide: SandboxCloser, inject: [TrainingSandbox], useFactory: (sandbox: TrainingSandbox) => new SandboxCloser(sandbox) },
    TrainJobService,
    SweepJobService,
    WorkerCapabilities,
  ],
  exports: [TrainingSandbox, TrainJobService, WorkerCapabilities],
})
export class TrainingCoreModule {}
