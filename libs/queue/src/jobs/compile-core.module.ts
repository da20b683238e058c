import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { CompileService } from './compile.service';
import { DslSandbox } from './dsl-sandbox.service';

/**
 * CompileService and its compile threads, for the gateway's sync route and the compile job. Needs APP_CONFIG,
 * ModelsRepository (PersistenceModule) and ArtifactStore (StorageModule) in the app.
 */
@Module({
  providers: [
    {
      provide: DslSandbox,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new DslSandbox({ threads: config.queue.concurrency, timeoutMs: config.queue.compileTimeoutMs }),
    },
    CompileService,
  ],
  exports: [CompileService, DslSandbox],
})
export class CompileCoreModule {}
