import type { JobPayload, QueueName } from '@app/contracts';

/** Executes one job; resolves when the job is done (its outcome is recorded in the database, not here). */
export type JobHandler = (payload: JobPayload) => Promise<void>;

export interface EnqueueOptions {
  /** Deliver no sooner than this many milliseconds from now. */
  delayMs?: number;
  /** The transport's id of this entry, when one row is enqueued more than once over time (webhook retries); default `payload.jobId`. */
  queueId?: string;
  /**
   * The caller is the handler running this very entry, giving the job back (its worker is stopping): the entry is
   * added again once that run has settled, instead of being ignored as running. Honoured by the Bull driver.
   */
  handBack?: boolean;
}

export type QueueHealth = 'healthy' | 'unhealthy';

/** Entries of a queue by state, as the transport sees them (`failed` stays 0 where failures are not kept). */
export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

/**
 * The transport that carries job execution. The database row is the source of truth for a job's state; a driver only
 * delivers `{jobId, tenantId}` to a handler, at most once per enqueue, and forgets the job once its handler settles.
 */
export abstract class QueueDriver {
  /** Adds a job under `options.queueId ?? payload.jobId`. A no-op when that id is already waiting, delayed or running. */
  abstract enqueue(queue: QueueName, payload: JobPayload, options?: EnqueueOptions): Promise<void>;

  /** Whether the transport still holds the entry of that id (waiting, delayed or running). */
  abstract isKnown(queue: QueueName, queueId: string): Promise<boolean>;

  /** Starts consuming `queue` with at most `concurrency` handlers at once. Called once per queue, by consumers only. */
  abstract process(queue: QueueName, concurrency: number, handler: JobHandler): void;

  abstract health(): Promise<QueueHealth>;

  /** How many entries the queue holds in each state (for the queue-depth metric). */
  abstract counts(queue: QueueName): Promise<QueueCounts>;

  /** Stops taking new jobs and resolves once the running handlers have finished. */
  abstract close(): Promise<void>;
}
