import { Injectable } from '@nestjs/common';
import type { QueueName } from '@app/contracts';
import type { JobHandler } from '../queue.driver';

/**
 * The job handlers of this process, one per queue. Job services register in `onModuleInit`; WorkerRuntime hands them
 * to the queue driver once the application has started.
 */
export interface HandlerOptions {
  /** Handlers of this queue running at once; default the worker's `WORKER_CONCURRENCY`. */
  concurrency?: number;
  /** Called when the worker stops: long jobs hand their work back (to be resumed elsewhere) instead of finishing it. */
  interrupt?: () => void;
}

@Injectable()
export class JobHandlerRegistry {
  private readonly handlers = new Map<QueueName, { handler: JobHandler } & HandlerOptions>();

  register(queue: QueueName, handler: JobHandler, options: HandlerOptions = {}): void {
    if (this.handlers.has(queue)) throw new Error(`a handler for queue '${queue}' is already registered`);
    this.handlers.set(queue, { handler, ...options });
  }

  entries(): Array<[QueueName, JobHandler, number | undefined]> {
    return [...this.handlers.entries()].map(([queue, { handler, concurrency }]) => [queue, handler, concurrency]);
  }

  /** Asks every handler that can to hand its running jobs back. */
  interruptAll(): void {
    for (const { interrupt } of this.handlers.values()) interrupt?.();
  }

  has(queue: QueueName): boolean {
    return this.handlers.has(queue);
  }
}
