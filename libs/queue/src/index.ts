export { QueueDriver, type EnqueueOptions, type JobHandler, type QueueCounts, type QueueHealth } from './queue.driver';
export { QueueMetrics, type JobOutcome } from './metrics/queue-metrics';
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
export { CompileError, DslCompileError, CompileTimeoutError, CompileResourceError, TrainingConfigRejectedError, DatasetMismatchError, toErrorEntry } from './jobs/compile.errors';
export { CompileService, InvalidCompileRequestError, MODEL_ARTIFACTS, modelArtifactKey, type CompiledModel } from './jobs/compile.service';
export { CompileCoreModule } from './jobs/compile-core.module';
export { CompileJobService } from './jobs/compile-job.service';
export { DslSandbox, type DslSandboxOptions, type SandboxCompileRequest, type SandboxPlanRequest } from './jobs/dsl-sandbox.service';
export type { SandboxOutput, SandboxPlanOutput, SandboxSweepOutput } from './jobs/dsl-sandbox.protocol';
export { JobHandlerRegistry } from './jobs/job-handler.registry';
export { Reconciler, PENDING_GRACE_MS, RECONCILE_BATCH, type ReconcileReport } from './jobs/reconciler.service';
export { WorkerRuntime } from './jobs/worker-runtime.service';
export { WorkerCoreModule } from './jobs/worker-core.module';
export { JobRegistryModule } from './jobs/job-registry.module';
export { type HandlerOptions } from './jobs/job-handler.registry';
export { WebhooksModule } from './webhooks/webhooks.module';
export { WebhookNotifier, WEBHOOK_PROGRESS_INTERVAL_MS } from './webhooks/webhook-notifier.service';
export { WebhookDeliverer, WEBHOOK_OVERDUE_MS } from './webhooks/webhook-deliverer.service';
export { checkWebhookTarget, isNonPublicAddress, WebhookTargetError } from './webhooks/webhook-target';
export { signWebhook } from './webhooks/webhook-sender';
export { TrainingCoreModule } from './training/training-core.module';
export { TrainJobService, experimentArtifactKey } from './training/train-job.service';
export { WorkerCapabilities } from './training/worker-capabilities.service';
export { bestMetrics, historyCsv, metricsOf, isLowerBetter } from './training/experiment-metrics';
export { DeployJobService, deploymentIdOf, deploymentModelKey, outputKindOf, type DeployJobInput } from './deployments/deploy-job.service';
export { SweepJobService, cancelUnfinishedTrials } from './sweeps/sweep-job.service';
export { sweepView, rungDecision, rungsFor, type SweepView, type TrialEntry, type SweepCounts } from './sweeps/sweep-state';
