import 'reflect-metadata';
import { loadConfigOrExit } from '@app/config';
import { Logger } from '@nestjs/common';
import { createWorker, WorkerModeError } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  try {
    const worker = await createWorker(config);
    const logger = new Logger('Worker');
    // SIGTERM/SIGINT → close(): no new jobs, trainings handed back at their next batch, other jobs finish
    // (WorkerRuntime.beforeApplicationShutdown), then exit 0. Past WORKER_SHUTDOWN_TIMEOUT_MS the process exits 1 and
    // whatever still runs is requeued by another worker's reconciler once its lock expires.
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        const { shutdownTimeoutMs } = config.queue;
        logger.log(`${sig}: stopping (at most ${shutdownTimeoutMs} ms)`);
        setTimeout(() => {
          logger.error(`shutdown took longer than ${shutdownTimeoutMs} ms (WORKER_SHUTDOWN_TIMEOUT_MS); exiting with jobs still running`);
          process.exit(1);
        }, shutdownTimeoutMs).unref();
        worker.close().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error(`shutdown failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
            process.exit(1);
          },
        );
      });
    }
  } catch (err) {
    if (err instanceof WorkerModeError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

main().catch((err: unknown) => {
  console.error('worker failed to start:', err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
