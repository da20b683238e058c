import { Injectable } from '@nestjs/common';
import type { QueueName } from '@app/contracts';
import type { JobHandler } from '../queue.driver';

/**
 * The job handlers of this process, one per queue. Job services register in `onModuleInit`; WorkerRuntime hands them
 * to the queue driver once the application has started.
 */
@Injectable()
export class JobHandlerRegistry {
  private readonly handlers = new Map<QueueName, { handler: JobHandler; concurrency?: number }>();

  /** `concurrency`: handlers of this queue running at once; default the worker's `WORKER_CONCURRENCY`. */
  register(queue: QueueName, handler: JobHandler, concurrency?: number): void {
    if (this.handlers.has(queue)) throw new Error(`a handler for queue '${queue}' is already registered`);
    this.handlers.set(queue, { handler, concurrency });
  }

  entries(): Array<[QueueName, JobHandler, number | undefined]> {
    return [...this.handlers.entries()].map(([queue, { handler, concurrency }]) => [queue, handler, concurrency]);
  }

  has(queue: QueueName): boolean {
    return this.handlers.has(queue);
  }
}
