import { Logger } from '@nestjs/common';
import type { Job, JobOptions, Queue } from 'bull';
import type { JobPayload, QueueName } from '@app/contracts';
import { QueueDriver, type EnqueueOptions, type JobHandler, type QueueHealth } from './queue.driver';
import { withRedisTimeout } from './with-timeout';

/** States in which Bull still owns a job; anything else (completed, failed, stuck) is a leftover. */
const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'paused']);

/** Our database keeps every outcome and the reconciler decides about retries, so Bull keeps nothing and retries nothing. */
export const BULL_JOB_OPTIONS: JobOptions = { removeOnComplete: true, removeOnFail: true, attempts: 1 };

export interface BullQueueDriverOptions {
  /** Give up on a Redis call after this long, so a request never hangs on a dead Redis. Default 5000. */
  commandTimeoutMs?: number;
}

/** Bull 4 queues on Redis, one per queue name; the Bull job id is our job id. */
export class BullQueueDriver extends QueueDriver {
  private readonly logger = new Logger(BullQueueDriver.name);
  private readonly timeoutMs: number;

  constructor(
    private readonly queues: Readonly<Record<QueueName, Queue>>,
    options: BullQueueDriverOptions = {},
  ) {
    super();
    this.timeoutMs = options.commandTimeoutMs ?? 5000;
  }

  override async enqueue(queue: QueueName, payload: JobPayload, options: EnqueueOptions = {}): Promise<void> {
    const q = this.queue(queue);
    const id = options.queueId ?? payload.jobId;
    await this.guard(`enqueue job ${id}`, async () => {
      const existing = await q.getJob(id);
      if (existing) {
        if (await this.isLive(q, existing)) return;
        // A leftover (a job Bull failed, or one whose worker died holding it) would make Bull ignore the add, ids being unique.
        await existing.remove();
      }
      const delay = options.delayMs && options.delayMs > 0 ? { delay: Math.ceil(options.delayMs) } : {};
      await q.add({ jobId: payload.jobId, tenantId: payload.tenantId } satisfies JobPayload, { ...BULL_JOB_OPTIONS, ...delay, jobId: id });
    });
  }

  /**
   * Waiting, delayed or paused entries are known; an active one only while a worker holds its lock. A worker that
   * died (SIGKILL, lost host) stops renewing the lock, so its job counts as lost once the lock expires, without
   * waiting for Bull's stalled-job sweep.
   */
  override async isKnown(queue: QueueName, queueId: string): Promise<boolean> {
    const q = this.queue(queue);
    return this.guard(`look up job ${queueId}`, async () => {
      const job = await q.getJob(queueId);
      return job !== null && (await this.isLive(q, job));
    });
  }

  private async isLive(q: Queue, job: Job): Promise<boolean> {
    const state = await job.getState();
    if (state === 'active') return (await q.client.exists(`${(q as Queue & { toKey(k: string): string }).toKey(String(job.id))}:lock`)) === 1;
    return LIVE_STATES.has(state);
  }

  override process(queue: QueueName, concurrency: number, handler: JobHandler): void {
    const q = this.queue(queue);
    q.process(concurrency, (job: Job<JobPayload>) => handler({ jobId: job.data.jobId, tenantId: job.data.tenantId })).catch((err: unknown) =>
      this.logger.error(`consumer of queue '${queue}' stopped: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  override async health(): Promise<QueueHealth> {
    try {
      await this.guard('ping Redis', async () => {
        await Promise.all(Object.values(this.queues).map((q) => q.client.ping()));
      }, Math.min(this.timeoutMs, 2000));
      return 'healthy';
    } catch {
      return 'unhealthy';
    }
  }

  /** Bull's close waits for the jobs this process is running before it disconnects. */
  override async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }

  /** The underlying Bull queue (for dashboards and tests). */
  queue(name: QueueName): Queue {
    const q = this.queues[name];
    if (!q) throw new Error(`unknown queue '${name}'`);
    return q;
  }

  private guard<T>(what: string, work: () => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    return withRedisTimeout(what, timeoutMs, work);
  }

}
