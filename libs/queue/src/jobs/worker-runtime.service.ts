import { Inject, Injectable, Logger, Optional, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { FINISHED_STATUSES, QUEUES, type QueueName } from '@app/contracts';
import { JobsRepository } from '@app/persistence';
import { PinoLogger } from 'nestjs-pino';
import { Store, storage } from 'nestjs-pino/storage';
import { QueueMetrics, type JobOutcome } from '../metrics/queue-metrics';
import { QueueDriver, type JobHandler } from '../queue.driver';
import { WorkerCapabilities } from '../training/worker-capabilities.service';
import { WORKER_HEARTBEAT_INTERVAL_MS, WorkerHeartbeat } from '../worker-heartbeat.service';
import { JobHandlerRegistry } from './job-handler.registry';
import { Reconciler } from './reconciler.service';

/**
 * The consuming side of a process: once the app has started it hands the registered handlers to the queue driver,
 * beats the worker heartbeat and runs the reconciler. On shutdown it stops taking jobs and waits for the running ones
 * before the database and the compile threads are closed (they close in `onApplicationShutdown`, after this).
 */
@Injectable()
export class WorkerRuntime implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WorkerRuntime.name);
  private heartbeatTimer?: NodeJS.Timeout;
  private heartbeatFailing = false;
  private started = false;

  constructor(
    private readonly registry: JobHandlerRegistry,
    private readonly driver: QueueDriver,
    private readonly heartbeat: WorkerHeartbeat,
    private readonly reconciler: Reconciler,
    private readonly capabilities: WorkerCapabilities,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobsRepository,
    @Optional() private readonly metrics?: QueueMetrics,
  ) {}

  onApplicationBootstrap(): void {
    if (this.started) return;
    this.started = true;
    for (const [queue, handler, concurrency] of this.registry.entries()) this.driver.process(queue, concurrency ?? this.config.queue.concurrency, withJobLogContext(queue, this.measured(queue, handler)));
    void this.beat();
    // Announce the capabilities as soon as they are known rather than at the next beat.
    void this.capabilities.ready.then(() => (this.started ? this.beat() : undefined));
    this.heartbeatTimer = setInterval(() => void this.beat(), WORKER_HEARTBEAT_INTERVAL_MS);
    this.heartbeatTimer.unref();
    this.reconciler.start();
    const lanes = this.registry.entries().map(([q, , c]) => `${q} ×${c ?? this.config.queue.concurrency}`);
    this.logger.log(`consuming ${lanes.join(', ')}`);
  }

  /** Graceful stop: no new jobs, running ones finish, then the process may close its connections. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearInterval(this.heartbeatTimer);
    await this.reconciler.stop();
    // Stop taking jobs first, so none starts after the interrupt; trainings are handed back, other jobs finish.
    const closed = this.driver.close();
    this.registry.interruptAll();
    await closed;
  }

  /**
   * Wraps a job handler so that a job this delivery ran to its end (the row finished after the handler was called)
   * adds its started→finished time to `neural_job_duration_seconds`. One row read per job; webhook entries are
   * deliveries, counted by the deliverer instead.
   */
  private measured(queue: QueueName, handler: JobHandler): JobHandler {
    const metrics = this.metrics;
    if (!metrics || queue === QUEUES.webhook) return handler;
    return async (payload) => {
      const called = Date.now();
      try {
        await handler(payload);
      } finally {
        const job = await this.jobs.findForTenant(payload.tenantId, payload.jobId).catch(() => null);
        if (job?.startedAt && job.completedAt && FINISHED_STATUSES.includes(job.status) && job.completedAt.getTime() >= called) {
          metrics.jobDuration.observe({ type: job.type, outcome: job.status as JobOutcome }, Math.max(0, job.completedAt.getTime() - job.startedAt.getTime()) / 1000);
        }
      }
    };
  }

  private async beat(): Promise<void> {
    try {
      await this.heartbeat.beat(new Date(), this.capabilities.info());
      if (this.heartbeatFailing) this.logger.log('worker heartbeat recovered');
      this.heartbeatFailing = false;
    } catch (err) {
      // Logged once per outage rather than every few seconds.
      if (!this.heartbeatFailing) this.logger.error(`worker heartbeat failed: ${err instanceof Error ? err.message : String(err)}`);
      this.heartbeatFailing = true;
    }
  }
}

const jobLogger = new Logger('Jobs');

/**
 * With pino logging, every line a job's handler writes (through Nest's Logger) carries its `job_id` and `queue`, as a
 * request's lines carry its `request_id`, ending with one line for the delivery. Without pino (tests give Nest a
 * plain logger) the handler runs as it is.
 */
function withJobLogContext(queue: QueueName, handler: JobHandler): JobHandler {
  return (payload) => {
    const root = PinoLogger.root as PinoLogger['logger'] | undefined;
    if (!root) return handler(payload);
    return storage.run(new Store(root.child({ job_id: payload.jobId, queue })), async () => {
      const started = Date.now();
      await handler(payload);
      jobLogger.log(`${queue} job ${payload.jobId} handled in ${Date.now() - started} ms`);
    });
  };
}
