import { APP_CONFIG, type AppConfig } from '@app/config';
import { QUEUES, type JobPayload } from '@app/contracts';
import { TenantsRepository, WebhookDeliveriesRepository, type AttemptOutcome } from '@app/persistence';
import { Inject, Injectable, Logger, Optional, type OnModuleInit } from '@nestjs/common';
import { version } from '../../../../package.json';
import { QueueMetrics } from '../metrics/queue-metrics';
import { QueueDriver } from '../queue.driver';
import { JobHandlerRegistry } from '../jobs/job-handler.registry';
import { attemptId } from './webhook-notifier.service';
import { sendWebhook } from './webhook-sender';

/** A pending delivery this late is assumed to have lost its queue entry. */
export const WEBHOOK_OVERDUE_MS = 30_000;

/**
 * Consumes the webhook queue: one attempt per entry, recorded on the delivery; a failed attempt schedules the next
 * with exponential backoff (`WEBHOOK_BACKOFF_MS` × 2^(n-1)) until `WEBHOOK_MAX_ATTEMPTS`.
 */
@Injectable()
export class WebhookDeliverer implements OnModuleInit {
  private readonly logger = new Logger(WebhookDeliverer.name);

  constructor(
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly tenants: TenantsRepository,
    private readonly queue: QueueDriver,
    private readonly registry: JobHandlerRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly metrics?: QueueMetrics,
  ) {}

  onModuleInit(): void {
    // Deliveries wait on the network, not the CPU: a few more at once than the jobs.
    this.registry.register(QUEUES.webhook, (payload) => this.deliver(payload), { concurrency: Math.max(4, this.config.queue.concurrency * 2) });
  }

  /** Makes the delivery's next attempt, unless it is already done or not yet due. */
  async deliver({ jobId: deliveryId }: JobPayload): Promise<void> {
    const delivery = await this.deliveries.findById(deliveryId);
    if (!delivery || delivery.status !== 'pending') return;
    if (delivery.nextAttemptAt && delivery.nextAttemptAt.getTime() - Date.now() > 1000) return;
    const attempt = delivery.attempts + 1;
    const { webhooks } = this.config;
    const sent = await sendWebhook(delivery.url, delivery.payload, {
      secret: await this.tenants.webhookSecret(delivery.tenantId),
      deliveryId: delivery.id,
      event: delivery.event,
      timeoutMs: webhooks.timeoutMs,
      allowPrivate: webhooks.allowPrivate,
      userAgent: `neural-dsl-platform-webhooks/${version}`,
    });
    let outcome: AttemptOutcome;
    if (sent.ok) outcome = { result: 'delivered' };
    else if (!sent.retryable || attempt >= delivery.maxAttempts) outcome = { result: 'failed' };
    else outcome = { result: 'retry', retryAt: new Date(Date.now() + webhooks.backoffMs * 2 ** (attempt - 1)) };
    const recorded = await this.deliveries.recordAttempt(
      delivery.id,
      { attempt, at: new Date().toISOString(), statusCode: sent.statusCode, error: sent.error, durationMs: sent.durationMs },
      outcome,
    );
    if (!recorded) return;
    this.metrics?.webhookDeliveries.inc({ outcome: outcome.result });
    if (outcome.result === 'retry') {
      await this.schedule(delivery.id, delivery.tenantId, attempt + 1, outcome.retryAt.getTime() - Date.now());
    } else if (outcome.result === 'failed') {
      this.logger.warn(`webhook ${delivery.event} of job ${delivery.jobId} failed after ${attempt} attempt(s): ${sent.error}`);
    }
  }

  /** Re-queues pending deliveries whose queue entry was lost (Redis flushed, process restarted). */
  async reconcile(now = new Date()): Promise<string[]> {
    const overdue = await this.deliveries.findOverdue(new Date(now.getTime() - WEBHOOK_OVERDUE_MS));
    for (const d of overdue) await this.schedule(d.id, d.tenantId, d.attempts + 1, 0);
    return overdue.map((d) => d.id);
  }

  private async schedule(deliveryId: string, tenantId: string, attempt: number, delayMs: number): Promise<void> {
    await this.queue.enqueue(QUEUES.webhook, { jobId: deliveryId, tenantId }, { queueId: attemptId(deliveryId, attempt), delayMs }).catch((err: unknown) => {
      // The delivery stays pending; the next reconcile pass queues it again.
      this.logger.warn(`could not queue webhook delivery ${deliveryId}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
}
