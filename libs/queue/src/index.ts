export { QueueDriver, type EnqueueOptions, type JobHandler, type QueueHealth } from './queue.driver';
export { JobEventBus, MemoryJobEventBus, RedisJobEventBus, type JobEventListener } from './events/job-event-bus';
export { QueueUnavailableError } from './queue.errors';
export { BullQueueDriver, BULL_JOB_OPTIONS, type BullQueueDriverOptions } from './bull-queue.driver';
export { InlineQueueDriver } from './inline-queue.driver';
export { QueueModule, DEFAULT_QUEUE_PREFIX, type QueueModuleOptions } from './queue.module';
export {
  type WorkerInfo,
  WorkerHeartbeat,
  RedisWorkerHeartbeat,
  MemoryWorkerHeartbeat,
  WORKER_HEARTBEAT_INTERVAL_MS,
  WORKER_HEARTBEAT_TTL_SECONDS,
} from './worker-heartbeat.service';
export { CompileError, DslCompileError, CompileTimeoutError, CompileResourceError, toErrorEntry } from './jobs/compile.errors';
export { CompileService, InvalidCompileRequestError, MODEL_ARTIFACTS, modelArtifactKey, type CompiledModel } from './jobs/compile.service';
export { CompileCoreModule } from './jobs/compile-core.module';
export { CompileJobService } from './jobs/compile-job.service';
export { DslSandbox, type DslSandboxOptions, type SandboxCompileRequest } from './jobs/dsl-sandbox.service';
export type { SandboxOutput } from './jobs/dsl-sandbox.protocol';
export { JobHandlerRegistry } from './jobs/job-handler.registry';
export { Reconciler, PENDING_GRACE_MS, RECONCILE_BATCH, type ReconcileReport } from './jobs/reconciler.service';
export { WorkerRuntime } from './jobs/worker-runtime.service';
export { WorkerCoreModule } from './jobs/worker-core.module';
