import { APP_CONFIG, type AppConfig } from '@app/config';
import { QUEUES, type JobStatus, type WebhookEventName, type WebhookPayload } from '@app/contracts';
import { type JobEntity, WebhookDeliveriesRepository } from '@app/persistence';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { QueueDriver } from '../queue.driver';
import { QueueUnavailableError } from '../queue.errors';

/** `progress` deliveries of one job are at most this frequent. */
export const WEBHOOK_PROGRESS_INTERVAL_MS = 1000;

/** The status a job has when each event is sent. */
const STATUS_OF: Record<WebhookEventName, JobStatus> = {
  started: 'running',
  progress: 'running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  // A sweep's trial ended; the sweep goes on.
  trial_finished: 'running',
};

/**
 * Records a job's webhook events and hands them to the webhook queue. Never delays or fails the job: a delivery that
 * cannot be queued now is picked up by the deliverer's reconcile pass, and any error is logged, not thrown.
 */
@Injectable()
export class WebhookNotifier {
  private readonly logger = new Logger(WebhookNotifier.name);
  private readonly lastProgress = new Map<string, number>();

  constructor(
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly queue: QueueDriver,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Queues `event` for the job's webhook, if it has one. `progress` events closer than 1 s to the last are dropped. */
  async notify(job: Pick<JobEntity, 'id' | 'tenantId' | 'webhookUrl'>, event: WebhookEventName, data: Record<string, unknown> = {}): Promise<void> {
    if (!job.webhookUrl) return;
    if (event === 'progress') {
      const last = this.lastProgress.get(job.id) ?? 0;
      if (Date.now() - last < WEBHOOK_PROGRESS_INTERVAL_MS) return;
      this.lastProgress.set(job.id, Date.now());
      if (this.lastProgress.size > 10_000) this.lastProgress.clear();
    } else if (event !== 'started') {
      this.lastProgress.delete(job.id);
    }
    const payload: WebhookPayload = { job_id: job.id, event, status: STATUS_OF[event], data, timestamp: new Date().toISOString() };
    try {
      const delivery = await this.deliveries.create({
        tenantId: job.tenantId,
        jobId: job.id,
        event,
        url: job.webhookUrl,
        payload: JSON.stringify(payload),
        maxAttempts: this.config.webhooks.maxAttempts,
      });
      await this.queue.enqueue(QUEUES.webhook, { jobId: delivery.id, tenantId: job.tenantId }, { queueId: attemptId(delivery.id, 1) }).catch((err: unknown) => {
        if (!(err instanceof QueueUnavailableError)) throw err;
      });
    } catch (err) {
      this.logger.error(`could not record the ${event} webhook of job ${job.id}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** The queue entry id of a delivery's n-th attempt: each retry is its own (delayed) entry. */
export function attemptId(deliveryId: string, attempt: number): string {
  return `${deliveryId}.${attempt}`;
}
