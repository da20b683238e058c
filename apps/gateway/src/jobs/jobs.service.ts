import { FINISHED_STATUSES, type JobEvent } from '@app/contracts';
import { DeploymentsRepository, ExperimentsRepository, JobsRepository, WebhookDeliveriesRepository, type JobEntity } from '@app/persistence';
import { cancelUnfinishedTrials, deploymentIdOf, JobEventBus, sweepView, WebhookNotifier } from '@app/queue';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { MessageEvent } from '@nestjs/common';
import { Observable } from 'rxjs';
import { DomainError } from '../common/domain-error';
import { iso } from '../common/iso';
import type { JobListDto, JobListQueryDto, WebhookDeliveryListDto } from './dto/job.dto';
import { toJobView, type JobView } from './job.view';

/**
 * A stream re-reads its job at least this often: events on the bus are best effort (a gateway may subscribe just after
 * a change, Redis may drop a message), the row is the truth.
 */
const EVENTS_POLL_MS = 2000;

@Injectable()
export class JobsService implements OnModuleDestroy {
  /** The `finish` of every open event stream, ended when the gateway stops so clients reconnect elsewhere. */
  private readonly streams = new Set<() => void>();
  private stopping = false;

  constructor(
    private readonly jobs: JobsRepository,
    private readonly experiments: ExperimentsRepository,
    private readonly deployments: DeploymentsRepository,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly bus: JobEventBus,
    private readonly notifier: WebhookNotifier,
  ) {}

  async list(tenantId: string, q: JobListQueryDto): Promise<JobListDto> {
    const page = await this.jobs.list(tenantId, { skip: q.skip, limit: q.limit, status: q.status, type: q.type, sweepId: q.sweep_id });
    return { jobs: page.items.map((j) => toJobView(j)), total: page.total, skip: q.skip, limit: q.limit };
  }

  async get(tenantId: string, id: string): Promise<JobView> {
    return this.view(await this.find(tenantId, id));
  }

  /** The job as shown; a sweep's leaderboard is read live from its trials. */
  private async view(job: JobEntity): Promise<JobView> {
    if (job.type !== 'hpo') return toJobView(job);
    const [trials, experiments] = await Promise.all([this.jobs.listTrials(job.id), this.experiments.listBySweep(job.id)]);
    return toJobView(job, sweepView(job, trials, experiments));
  }

  /**
   * Cancels a pending job at once and tells a running one to stop (it does within one batch); its experiment keeps
   * the metrics of the epochs it finished. 409 once the job has finished.
   */
  async cancel(tenantId: string, id: string): Promise<JobView> {
    const job = await this.find(tenantId, id);
    if (!(await this.jobs.markCancelled(tenantId, id))) {
      const now = await this.get(tenantId, id);
      throw DomainError.conflict(`Job ${id} already finished with status ${now.status}; only pending or running jobs can be cancelled.`);
    }
    await this.bus.publishStatus(id, 'cancelled');
    // The sweep's unfinished trials go with it.
    if (job.type === 'hpo') await cancelUnfinishedTrials({ jobs: this.jobs, experiments: this.experiments, bus: this.bus }, tenantId, await this.jobs.listTrials(id));
    const experiment = job.type === 'train' ? await this.experiments.findByJob(id) : null;
    if (experiment && !FINISHED_STATUSES.includes(experiment.status)) await this.experiments.update(experiment.id, { status: 'cancelled', completedAt: new Date() });
    const deploymentId = deploymentIdOf(job);
    // A deployment still coming up stops there; its deploy job, if running, finds it no longer deploying.
    if (deploymentId) await this.deployments.markFailed(deploymentId, { code: 'cancelled', detail: `its deploy job ${id} was cancelled` });
    await this.notifier.notify(job, 'cancelled', { ...(experiment ? { experiment_id: experiment.id } : {}), metrics: job.metrics ?? {} });
    return this.get(tenantId, id);
  }

  /** Every delivery of the job's webhook, with each attempt. */
  async webhooks(tenantId: string, id: string): Promise<WebhookDeliveryListDto> {
    await this.find(tenantId, id);
    const rows = await this.deliveries.listForJob(tenantId, id);
    return {
      deliveries: rows.map((d) => ({
        delivery_id: d.id,
        event: d.event,
        url: d.url,
        status: d.status,
        attempts: d.attempts,
        max_attempts: d.maxAttempts,
        next_attempt_at: iso(d.nextAttemptAt),
        last_status_code: d.lastStatusCode,
        last_error: d.lastError,
        payload: JSON.parse(d.payload) as Record<string, unknown>,
        attempt_log: d.attemptLog.map((a) => ({ attempt: a.attempt, at: a.at, status_code: a.statusCode, error: a.error, duration_ms: a.durationMs })),
        created_at: iso(d.createdAt)!,
        delivered_at: iso(d.deliveredAt),
      })),
    };
  }

  /**
   * The job now (`job` event), then as it changes: `progress` events per batch, `epoch` events with each epoch's
   * metrics, and `job` again at every change of the row; completes after the job reaches a finished status.
   */
  async events(tenantId: string, id: string): Promise<Observable<MessageEvent>> {
    await this.find(tenantId, id);
    return new Observable<MessageEvent>((subscriber) => {
      let last = '';
      let closed = false;
      let reading: Promise<void> = Promise.resolve();
      const emitRow = () => {
        reading = reading.then(async () => {
          if (closed) return;
          const job = await this.jobs.findForTenant(tenantId, id);
          if (!job) return finish();
          const view = await this.view(job);
          const text = JSON.stringify(view);
          if (text !== last) {
            last = text;
            subscriber.next({ type: 'job', data: view });
          }
          if (FINISHED_STATUSES.includes(view.status)) finish();
        });
        reading.catch((e: unknown) => {
          if (!closed) subscriber.error(e);
        });
      };
      const onEvent = (e: JobEvent) => {
        if (closed) return;
        if (e.type !== 'status') subscriber.next({ type: e.type, data: e });
        if (e.type !== 'progress') emitRow();
      };
      let unsubscribe: (() => Promise<void>) | undefined;
      const timer = setInterval(emitRow, EVENTS_POLL_MS);
      const finish = () => {
        if (closed) return;
        closed = true;
        this.streams.delete(finish);
        clearInterval(timer);
        void unsubscribe?.();
        subscriber.complete();
      };
      this.streams.add(finish);
      // Subscribed before the first read, so no change between the two goes unseen.
      this.bus.subscribe(id, onEvent).then(
        (stop) => {
          if (closed) void stop();
          else unsubscribe = stop;
          emitRow();
          // Opened while the gateway stops (on a kept-alive connection): the current state, then the end.
          if (this.stopping) reading = reading.then(finish);
        },
        (e: unknown) => subscriber.error(e),
      );
      return () => {
        closed = true;
        this.streams.delete(finish);
        clearInterval(timer);
        void unsubscribe?.();
      };
    });
  }

  /** The gateway is stopping (first of Nest's shutdown hooks): open streams end now rather than hold the HTTP drain. */
  onModuleDestroy(): void {
    this.stopping = true;
    for (const finish of [...this.streams]) finish();
  }

  private async find(tenantId: string, id: string): Promise<JobEntity> {
    const job = await this.jobs.findForTenant(tenantId, id);
    if (!job) throw DomainError.notFound('job', id);
    return job;
  }
}
