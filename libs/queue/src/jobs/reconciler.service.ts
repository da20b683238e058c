import { Inject, Injectable, Logger } from '@nestjs/common';
import { QUEUES, type QueueName } from '@app/contracts';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { DeploymentsRepository, ExperimentsRepository, JobsRepository, type JobEntity, type JobError } from '@app/persistence';
import { deploymentIdOf } from '../deployments/deploy-job.service';
import { JobEventBus } from '../events/job-event-bus';
import { QueueDriver } from '../queue.driver';
import { WebhookDeliverer } from '../webhooks/webhook-deliverer.service';
import { WebhookNotifier } from '../webhooks/webhook-notifier.service';

/** A pending row younger than this may simply not have reached the transport yet (the producer enqueues after insert). */
export const PENDING_GRACE_MS = 10_000;
/** Rows examined per pass, least recently updated first. */
export const RECONCILE_BATCH = 500;

export interface ReconcileReport {
  /** Pending jobs the transport had lost, enqueued again. */
  reenqueued: string[];
  /** Running jobs whose worker was lost, set back to pending and enqueued again. */
  requeued: string[];
  /** Running jobs whose worker was lost once too often, failed with `job_lost`. */
  failed: string[];
  /** Webhook deliveries whose queue entry was lost, queued again. */
  webhooks: string[];
}

/**
 * Makes the database and the transport agree again after Redis lost jobs (flush, restart) or a worker died mid-job:
 * a job is never left `pending` or `running` forever. Safe to run in several workers at once: every transition is a
 * conditional update and enqueue is idempotent.
 */
@Injectable()
export class Reconciler {
  private readonly logger = new Logger(Reconciler.name);
  private timer?: NodeJS.Timeout;
  private pass?: Promise<ReconcileReport>;

  constructor(
    private readonly jobs: JobsRepository,
    private readonly experiments: ExperimentsRepository,
    private readonly deployments: DeploymentsRepository,
    private readonly driver: QueueDriver,
    private readonly deliverer: WebhookDeliverer,
    private readonly notifier: WebhookNotifier,
    private readonly bus: JobEventBus,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Reconciles now, then every `config.queue.reconcileIntervalSeconds`. */
  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.config.queue.reconcileIntervalSeconds * 1000);
    this.timer.unref();
  }

  /** Stops the schedule and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.pass?.catch(() => undefined);
  }

  /** One pass, as of `now`. Concurrent calls share the pass in progress. */
  reconcile(now = new Date()): Promise<ReconcileReport> {
    this.pass ??= this.run(now).finally(() => (this.pass = undefined));
    return this.pass;
  }

  private tick(): void {
    this.reconcile().then(
      (report) => {
        const changed = report.reenqueued.length + report.requeued.length + report.failed.length + report.webhooks.length;
        if (changed) {
          this.logger.warn(
            `reconciled lost jobs: re-enqueued ${report.reenqueued.length}, requeued ${report.requeued.length}, failed ${report.failed.length}; webhook deliveries re-queued ${report.webhooks.length}`,
          );
        }
      },
      (err: unknown) => this.logger.error(`reconcile pass failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  private async run(now: Date): Promise<ReconcileReport> {
    const { stallTimeoutSeconds, maxAttempts } = this.config.queue;
    const report: ReconcileReport = { reenqueued: [], requeued: [], failed: [], webhooks: [] };
    const stale = await this.jobs.findStale({
      pendingOlderThan: new Date(now.getTime() - PENDING_GRACE_MS),
      // Embedded mode has one process and its in-process queue knows every job it runs: a running row it does not know
      // was orphaned by a crash or restart, so there is no need to wait for the stall timeout.
      runningOlderThan: this.config.mode === 'embedded' ? now : new Date(now.getTime() - stallTimeoutSeconds * 1000),
      limit: RECONCILE_BATCH,
    });
    for (const job of stale) {
      const queue = queueOf(job);
      if (await this.driver.isKnown(queue, job.id)) continue;
      const payload = { jobId: job.id, tenantId: job.tenantId };
      if (job.status === 'pending') {
        await this.driver.enqueue(queue, payload);
        report.reenqueued.push(job.id);
      } else if (job.attempts < maxAttempts || job.type === 'hpo') {
        // A sweep's coordinator keeps no state of its own: taking it over costs nothing, so a sweep is never given up.
        if (await this.jobs.requeue(job.id)) {
          await this.driver.enqueue(queue, payload);
          report.requeued.push(job.id);
        }
      } else {
        const error: JobError = {
          code: 'job_lost',
          detail: `the worker running this job stopped (no sign of life for ${stallTimeoutSeconds} s) and the job has used all ${maxAttempts} attempts`,
        };
        if (await this.jobs.markFailed(job.id, error)) {
          report.failed.push(job.id);
          await this.afterLost(job, error);
        }
      }
    }
    report.webhooks = await this.deliverer.reconcile(now);
    return report;
  }

  /** What the lost job's own worker would have done when failing it: its experiment, its stream, its webhook. */
  private async afterLost(job: JobEntity, error: JobError): Promise<void> {
    const experiment = job.type === 'train' ? await this.experiments.findByJob(job.id) : null;
    if (experiment) await this.experiments.update(experiment.id, { status: 'failed', error, completedAt: new Date() });
    const deploymentId = deploymentIdOf(job);
    if (deploymentId) await this.deployments.markFailed(deploymentId, error);
    await this.bus.publishStatus(job.id, 'failed');
    await this.notifier.notify(job, 'failed', { ...(experiment ? { experiment_id: experiment.id } : {}), error: { code: error.code, message: error.detail } });
  }
}

function queueOf(job: JobEntity): QueueName {
  return QUEUES[job.type];
}
