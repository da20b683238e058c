import 'reflect-metadata';
import { loadConfigOrExit } from '@app/config';
import { createWorker, WorkerModeError } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  try {
    const worker = await createWorker(config);
    // SIGTERM/SIGINT → close(): running jobs finish first (WorkerRuntime.beforeApplicationShutdown), then exit.
    worker.enableShutdownHooks(['SIGTERM', 'SIGINT']);
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
