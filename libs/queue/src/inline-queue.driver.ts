import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { JobPayload, QueueName } from '@app/contracts';
import { QueueDriver, type EnqueueOptions, type JobHandler, type QueueCounts, type QueueHealth } from './queue.driver';
import { QueueUnavailableError } from './queue.errors';

interface Entry {
  id: string;
  payload: JobPayload;
}

interface Lane {
  waiting: Entry[];
  /** Ids delayed, waiting or running: what makes enqueue idempotent and what isKnown answers from. */
  known: Set<string>;
  delayed: Map<string, NodeJS.Timeout>;
  running: Set<Promise<void>>;
  handler?: JobHandler;
  concurrency: number;
}

/**
 * Runs handlers in this process (embedded mode and tests): FIFO per queue, at most `concurrency` at once. Jobs
 * enqueued before `process()` wait for it; delayed ones join the queue when their delay is over. Nothing survives the
 * process; the reconciler re-enqueues pending rows.
 */
export class InlineQueueDriver extends QueueDriver implements OnApplicationShutdown {
  private readonly logger = new Logger(InlineQueueDriver.name);
  private readonly lanes = new Map<QueueName, Lane>();
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;

  override async enqueue(queue: QueueName, payload: JobPayload, options: EnqueueOptions = {}): Promise<void> {
    if (this.closed) throw new QueueUnavailableError('the in-process queue is shut down');
    const lane = this.lane(queue);
    const id = options.queueId ?? payload.jobId;
    if (lane.known.has(id)) return;
    lane.known.add(id);
    const entry: Entry = { id, payload: { jobId: payload.jobId, tenantId: payload.tenantId } };
    if (options.delayMs && options.delayMs > 0) {
      const timer = setTimeout(() => {
        lane.delayed.delete(id);
        lane.waiting.push(entry);
        this.pump(lane);
      }, options.delayMs);
      timer.unref();
      lane.delayed.set(id, timer);
      return;
    }
    lane.waiting.push(entry);
    // Deferred so the producer finishes its own work (e.g. answering the request) before the handler starts.
    setImmediate(() => this.pump(lane));
  }

  override async isKnown(queue: QueueName, queueId: string): Promise<boolean> {
    return this.lanes.get(queue)?.known.has(queueId) ?? false;
  }

  override process(queue: QueueName, concurrency: number, handler: JobHandler): void {
    const lane = this.lane(queue);
    if (lane.handler) throw new Error(`queue '${queue}' already has a handler`);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    lane.handler = handler;
    lane.concurrency = concurrency;
    setImmediate(() => this.pump(lane));
  }

  override async health(): Promise<QueueHealth> {
    return this.closed ? 'unhealthy' : 'healthy';
  }

  override async counts(queue: QueueName): Promise<QueueCounts> {
    const lane = this.lanes.get(queue);
    return { waiting: lane?.waiting.length ?? 0, active: lane?.running.size ?? 0, delayed: lane?.delayed.size ?? 0, failed: 0 };
  }

  override async close(): Promise<void> {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const [id, timer] of lane.delayed) {
        clearTimeout(timer);
        lane.known.delete(id);
      }
      lane.delayed.clear();
    }
    const running = [...this.lanes.values()].flatMap((lane) => [...lane.running]);
    await Promise.all(running);
  }

  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  /**
   * Resolves once no handler is running and no consumed queue has jobs waiting (queues without a handler, and delayed
   * entries, are not waited on). For tests and drain helpers.
   */
  onIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private lane(queue: QueueName): Lane {
    let lane = this.lanes.get(queue);
    if (!lane) {
      lane = { waiting: [], known: new Set(), delayed: new Map(), running: new Set(), concurrency: 1 };
      this.lanes.set(queue, lane);
    }
    return lane;
  }

  private pump(lane: Lane): void {
    const handler = lane.handler;
    while (handler && !this.closed && lane.running.size < lane.concurrency && lane.waiting.length > 0) {
      const { id, payload } = lane.waiting.shift()!;
      const run: Promise<void> = Promise.resolve()
        .then(() => handler(payload))
        .catch((err: unknown) => this.logger.error(`job ${payload.jobId} handler failed: ${describe(err)}`, err instanceof Error ? err.stack : undefined))
        .finally(() => {
          lane.running.delete(run);
          lane.known.delete(id);
          this.pump(lane);
          this.notifyIdle();
        });
      lane.running.add(run);
    }
    this.notifyIdle();
  }

  private isIdle(): boolean {
    for (const lane of this.lanes.values()) {
      if (lane.running.size > 0) return false;
      if (lane.handler && !this.closed && lane.waiting.length > 0) return false;
    }
    return true;
  }

  private notifyIdle(): void {
    if (!this.idleWaiters.length || !this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
