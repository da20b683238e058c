import { BullModule, getQueueToken } from '@nestjs/bull';
import { DynamicModule, Module, Provider } from '@nestjs/common';
import type { Queue } from 'bull';
import { QUEUES, type QueueName } from '@app/contracts';
import type { AppConfig } from '@app/config';
import { BULL_JOB_OPTIONS, BullQueueDriver } from './bull-queue.driver';
import { InlineQueueDriver } from './inline-queue.driver';
import { QueueDriver } from './queue.driver';
import { QueueMetrics } from './metrics/queue-metrics';
import { JobEventBus, MemoryJobEventBus, RedisJobEventBus } from './events/job-event-bus';
import { MemoryWorkerHeartbeat, RedisWorkerHeartbeat, WorkerHeartbeat } from './worker-heartbeat.service';

export interface QueueModuleOptions {
  /** Redis key prefix of the queues and the heartbeat (distributed mode). Tests use a fresh one each. Default `neural`. */
  prefix?: string;
}

export const DEFAULT_QUEUE_PREFIX = 'neural';

const QUEUE_NAMES = Object.values(QUEUES) as QueueName[];

/** Closes the event bus's connections with the app. */
class JobEventBusCloser {
  constructor(private readonly bus: JobEventBus) {}
  onApplicationShutdown(): Promise<void> {
    return this.bus.close();
  }
}

/**
 * Provides {@link QueueDriver}, {@link WorkerHeartbeat}, {@link JobEventBus} and {@link QueueMetrics} globally: Bull and pub/sub on Redis in
 * distributed mode, in-process ones in embedded mode. Producing needs only this module; consuming is WorkerCoreModule's.
 */
@Module({})
export class QueueModule {
  static forRoot(config: AppConfig, options: QueueModuleOptions = {}): DynamicModule {
    return config.mode === 'distributed' ? bullModule(config, options.prefix ?? DEFAULT_QUEUE_PREFIX) : inlineModule();
  }
}

function inlineModule(): DynamicModule {
  return {
    module: QueueModule,
    global: true,
    providers: [
      { provide: QueueDriver, useFactory: () => new InlineQueueDriver() },
      { provide: WorkerHeartbeat, useFactory: () => new MemoryWorkerHeartbeat() },
      { provide: JobEventBus, useFactory: () => new MemoryJobEventBus() },
      { provide: QueueMetrics, useFactory: () => new QueueMetrics() },
    ],
    exports: [QueueDriver, WorkerHeartbeat, JobEventBus, QueueMetrics],
  };
}

function bullModule(config: AppConfig, prefix: string): DynamicModule {
  const url = config.redis.url;
  if (!url) throw new Error('distributed mode needs config.redis.url');
  const tokens = QUEUE_NAMES.map((name) => getQueueToken(name));
  const providers: Provider[] = [
    {
      provide: QueueDriver,
      useFactory: (...queues: Queue[]) => new BullQueueDriver(Object.fromEntries(QUEUE_NAMES.map((name, i) => [name, queues[i]])) as Record<QueueName, Queue>, { commandTimeoutMs: config.redis.commandTimeoutMs }),
      inject: tokens,
    },
    {
      provide: WorkerHeartbeat,
      useFactory: (queue: Queue) => new RedisWorkerHeartbeat(queue.client, `${prefix}:worker:heartbeat`),
      inject: [getQueueToken(QUEUES.compile)],
    },
    { provide: JobEventBus, useFactory: () => new RedisJobEventBus(url, prefix) },
    { provide: JobEventBusCloser, useFactory: (bus: JobEventBus) => new JobEventBusCloser(bus), inject: [JobEventBus] },
    { provide: QueueMetrics, useFactory: () => new QueueMetrics() },
  ];
  return {
    module: QueueModule,
    global: true,
    imports: [
      BullModule.forRootAsync({
        useFactory: () => ({
          url,
          prefix,
          defaultJobOptions: BULL_JOB_OPTIONS,
          // A stalled job is not re-run by Bull: the reconciler requeues it from the database, counting attempts. A
          // live worker renews its lock every half lock; a dead one's lock expires within the stall timeout.
          settings: { maxStalledCount: 0, lockDuration: Math.min(30_000, config.queue.stallTimeoutSeconds * 1000) },
        }),
      }),
      BullModule.registerQueue(...QUEUE_NAMES.map((name) => ({ name }))),
    ],
    providers,
    exports: [QueueDriver, WorkerHeartbeat, JobEventBus, QueueMetrics, BullModule],
  };
}
