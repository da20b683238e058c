import { Logger } from '@nestjs/common';
import type { Job, JobOptions, Queue } from 'bull';
import type { JobPayload, QueueName } from '@app/contracts';
import { QueueDriver, type EnqueueOptions, type JobHandler, type QueueCounts, type QueueHealth } from './queue.driver';
import { withRedisTimeout } from './with-timeout';

/** States in which Bull still owns a job; anything else (completed, failed, stuck) is a leftover. */
const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'paused']);

/** Our database keeps every outcome and the reconciler decides about retries, so Bull keeps nothing and retries nothing. */
export const BULL_JOB_OPTIONS: JobOptions = { removeOnComplete: true, removeOnFail: true, attempts: 1 };

export interface BullQueueDriverOptions {
  /** Give up on a Redis call after this long, so a request never hangs on a slow Redis (REDIS_COMMAND_TIMEOUT_MS). Default 5000. */
  commandTimeoutMs?: number;
}

/** Bull 4 queues on Redis, one per queue name; the Bull job id is our job id. */
export class BullQueueDriver extends QueueDriver {
  private readonly logger = new Logger(BullQueueDriver.name);
  private readonly timeoutMs: number;
  /** Ids of the jobs this process is running. */
  private readonly holding = new Set<string>();
  /** Entries enqueued again by their own handler (`handBack`): added once Bull has let go of the running one. */
  private readonly afterSettle = new Map<string, () => Promise<unknown>>();
  private readonly readding = new Set<Promise<unknown>>();

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
    await this.guard(q, `enqueue job ${id}`, async () => {
      const existing = await q.getJob(id);
      const delay = options.delayMs && options.delayMs > 0 ? { delay: Math.ceil(options.delayMs) } : {};
      const add = () => q.add({ jobId: payload.jobId, tenantId: payload.tenantId } satisfies JobPayload, { ...BULL_JOB_OPTIONS, ...delay, jobId: id });
      if (existing) {
        if (options.handBack && this.holding.has(id) && (await existing.getState()) === 'active') {
          // Bull ignores an add under the id of the entry being run; this handler's entry is removed when it returns.
          this.afterSettle.set(id, add);
          return;
        }
        if (await this.isLive(q, existing)) return;
        // A leftover (a job Bull failed, or one whose worker died holding it) would make Bull ignore the add, ids being unique.
        await existing.remove();
      }
      await add();
    });
  }

  /**
   * Waiting, delayed or paused entries are known; an active one only while a worker holds its lock. A worker that
   * died (SIGKILL, lost host) stops renewing the lock, so its job counts as lost once the lock expires, without
   * waiting for Bull's stalled-job sweep.
   */
  override async isKnown(queue: QueueName, queueId: string): Promise<boolean> {
    const q = this.queue(queue);
    return this.guard(q, `look up job ${queueId}`, async () => {
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
    const settled = (job: Job) => {
      const add = this.afterSettle.get(String(job.id));
      if (!add) return;
      this.afterSettle.delete(String(job.id));
      const p = add()
        .catch((err: unknown) => this.logger.warn(`could not enqueue job ${job.id} again (the reconciler will): ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => this.readding.delete(p));
      this.readding.add(p);
    };
    q.on('completed', settled);
    q.on('failed', settled);
    q.process(concurrency, async (job: Job<JobPayload>) => {
      const id = String(job.id);
      this.holding.add(id);
      try {
        await handler({ jobId: job.data.jobId, tenantId: job.data.tenantId });
      } finally {
        this.holding.delete(id);
      }
    }).catch((err: unknown) =>
      this.logger.error(`consumer of queue '${queue}' stopped: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  override async health(): Promise<QueueHealth> {
    try {
      await Promise.all(Object.values(this.queues).map((q) => this.guard(q, 'ping Redis', () => q.client.ping(), Math.min(this.timeoutMs, 2000))));
      return 'healthy';
    } catch {
      return 'unhealthy';
    }
  }

  override async counts(queue: QueueName): Promise<QueueCounts> {
    const q = this.queue(queue);
    const c = await this.guard(q, `count the jobs of queue ${queue}`, () => q.getJobCounts(), Math.min(this.timeoutMs, 2000));
    return { waiting: c.waiting + ((c as { paused?: number }).paused ?? 0), active: c.active, delayed: c.delayed, failed: c.failed };
  }

  /** Stops taking jobs, waits for the running ones and for the entries they enqueued again, then disconnects. */
  override async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.pause(true).catch(() => undefined)));
    await Promise.all([...this.readding]);
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }

  /** The underlying Bull queue (for dashboards and tests). */
  queue(name: QueueName): Queue {
    const q = this.queues[name];
    if (!q) throw new Error(`unknown queue '${name}'`);
    return q;
  }

  private guard<T>(q: Queue, what: string, work: () => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    return withRedisTimeout(what, timeoutMs, work, q.client);
  }

}
