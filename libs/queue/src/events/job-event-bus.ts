import { Logger } from '@nestjs/common';
import type { JobEvent, JobStatus } from '@app/contracts';
import { EventEmitter } from 'events';
import Redis from 'ioredis';
import { isRedisOffline } from '../with-timeout';

export type JobEventListener = (event: JobEvent) => void;

/**
 * Live job updates between processes: the worker (or a gateway cancelling a job) publishes, every gateway streaming
 * that job to a client receives. Best effort by design: the job row stays the truth, and a stream re-reads it.
 */
export abstract class JobEventBus {
  /** Never throws: a lost update must not fail the work that produced it. */
  abstract publish(event: JobEvent): Promise<void>;
  /** A job's new status, now. */
  publishStatus(jobId: string, status: JobStatus): Promise<void> {
    return this.publish({ type: 'status', job_id: jobId, status, at: new Date().toISOString() });
  }
  /** Calls `listener` for every event of the job until the returned function is called. */
  abstract subscribe(jobId: string, listener: JobEventListener): Promise<() => Promise<void>>;
  abstract close(): Promise<void>;
}

/** Embedded mode: producer and streams share the process. */
export class MemoryJobEventBus extends JobEventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  override async publish(event: JobEvent): Promise<void> {
    this.emitter.emit(event.job_id, event);
  }

  override async subscribe(jobId: string, listener: JobEventListener): Promise<() => Promise<void>> {
    this.emitter.on(jobId, listener);
    return async () => {
      this.emitter.off(jobId, listener);
    };
  }

  override async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/**
 * Distributed mode: one channel per job on Redis pub/sub. A process holds one subscriber connection, opened on the
 * first subscription, and subscribes to a channel once however many local streams follow that job.
 */
export class RedisJobEventBus extends JobEventBus {
  private readonly logger = new Logger(RedisJobEventBus.name);
  private readonly publisher: Redis;
  private subscriber?: Redis;
  private readonly local = new EventEmitter().setMaxListeners(0);
  private lastWarning = 0;

  constructor(
    private readonly url: string,
    private readonly prefix: string,
  ) {
    super();
    this.publisher = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 2000, lazyConnect: true });
    this.publisher.on('error', (err: Error) => this.warn(`job event publisher: ${err.message}`));
  }

  /** At most one warning per 10 s: an outage is worth a line, not a line per event. */
  private warn(message: string): void {
    if (Date.now() - this.lastWarning < 10_000) return;
    this.lastWarning = Date.now();
    this.logger.warn(message);
  }

  private channel(jobId: string): string {
    return `${this.prefix}:events:job:${jobId}`;
  }

  override async publish(event: JobEvent): Promise<void> {
    try {
      await this.publisher.publish(this.channel(event.job_id), JSON.stringify(event));
    } catch (err) {
      this.warn(`could not publish job events: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Best effort, like publishing: while Redis is away the subscription is skipped (a job's stream still follows its row
   * in the database) and every channel with a listener is subscribed again once Redis is back.
   */
  override async subscribe(jobId: string, listener: JobEventListener): Promise<() => Promise<void>> {
    const channel = this.channel(jobId);
    const sub = this.connectSubscriber();
    const first = this.local.listenerCount(channel) === 0;
    this.local.on(channel, listener);
    if (first && !isRedisOffline(sub)) await sub.subscribe(channel).catch((err: Error) => this.warn(`job event subscriber: ${err.message}`));
    return async () => {
      this.local.off(channel, listener);
      if (this.local.listenerCount(channel) === 0) await sub.unsubscribe(channel).catch(() => undefined);
    };
  }

  override async close(): Promise<void> {
    this.local.removeAllListeners();
    await Promise.all(
      [this.publisher, this.subscriber].map(async (c) => {
        if (!c || c.status !== 'ready') return c?.disconnect();
        await c.quit().catch(() => c.disconnect());
      }),
    );
  }

  private connectSubscriber(): Redis {
    if (!this.subscriber) {
      this.subscriber = new Redis(this.url, { maxRetriesPerRequest: 1 });
      this.subscriber.on('message', (channel: string, message: string) => {
        let event: JobEvent;
        try {
          event = JSON.parse(message) as JobEvent;
        } catch {
          return;
        }
        this.local.emit(channel, event);
      });
      this.subscriber.on('error', (err: Error) => this.warn(`job event subscriber: ${err.message}`));
      this.subscriber.on('ready', () => {
        const channels = this.local.eventNames() as string[];
        if (channels.length) this.subscriber?.subscribe(...channels).catch((err: Error) => this.warn(`job event subscriber: ${err.message}`));
      });
    }
    return this.subscriber;
  }
}
