import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { QueueDriver } from '../queue.driver';
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
  ) {}

  onApplicationBootstrap(): void {
    if (this.started) return;
    this.started = true;
    for (const [queue, handler, concurrency] of this.registry.entries()) this.driver.process(queue, concurrency ?? this.config.queue.concurrency, handler);
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
    this.registry.interruptAll();
    await this.driver.close();
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
