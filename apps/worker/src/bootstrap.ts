import 'reflect-metadata';
import type { INestApplicationContext, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger as PinoLogger } from 'nestjs-pino';
import type { AppConfig } from '@app/config';
import { WorkerModule } from './worker.module';

/** Why a worker was not started: the configuration asks for the embedded mode, where the gateway runs the jobs. */
export class WorkerModeError extends Error {
  constructor() {
    super(
      'the worker runs only in distributed mode: set both DATABASE_URL and REDIS_URL. ' +
        'In embedded mode (neither set) the gateway runs the jobs in its own process, so start it alone with `npm start`.',
    );
    this.name = 'WorkerModeError';
  }
}

export interface CreateWorkerOptions {
  /** Redis key prefix of the queues (must match the gateway's); default `REDIS_KEY_PREFIX` (`neural`). */
  queuePrefix?: string;
  /** Nest's logger setting (tests); default structured pino logs (LOG_LEVEL, LOG_FORMAT). */
  logger?: LoggerService | LogLevel[] | false;
}

/**
 * Starts a worker (an application context: consumers, reconciler, heartbeat; no HTTP). Throws WorkerModeError in
 * embedded mode. `close()` stops taking jobs and waits for the running ones before disconnecting.
 */
export async function createWorker(config: AppConfig, options: CreateWorkerOptions = {}): Promise<INestApplicationContext> {
  if (config.mode !== 'distributed') throw new WorkerModeError();
  const structuredLogs = options.logger === undefined;
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, { prefix: options.queuePrefix ?? config.redis.prefix, structuredLogs }), {
    logger: options.logger,
    bufferLogs: structuredLogs,
    abortOnError: false,
  });
  if (structuredLogs) app.useLogger(app.get(PinoLogger));
  await app.init();
  return app;
}
