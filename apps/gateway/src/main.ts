import 'reflect-metadata';
import { loadConfigOrExit } from '@app/config';
import { type AppConfig } from '@app/config';
import { type INestApplication, Logger } from '@nestjs/common';
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { createGateway } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (config.http.workers > 1 && cluster.isPrimary) {
    // API_WORKERS gateway processes share the port; the primary only restarts one that dies.
    const logger = new Logger('Gateway');
    let stopping = false;
    for (let i = 0; i < config.http.workers; i++) cluster.fork();
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      logger.error(`gateway process ${worker.process.pid} exited (${signal ?? code}); starting another`);
      cluster.fork();
    });
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        stopping = true;
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(sig);
      });
    }
    return;
  }
  const app = await createGateway(config);
  await app.listen(config.http.port, config.http.host);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop(app, config, sig));
  new Logger('Gateway').log(`listening on http://${config.http.host}:${config.http.port} (${config.mode} mode)`);
}

/**
 * Graceful stop: the port closes at once (new connections are refused), event streams end (JobsService), requests in
 * flight finish within GATEWAY_SHUTDOWN_TIMEOUT_MS (then their connections are cut), and only then do the database and
 * Redis close (Nest's `app.close()`: its HTTP close waits for the drain). Exits 0.
 */
function stop(app: INestApplication, config: AppConfig, sig: NodeJS.Signals): void {
  const logger = new Logger('Gateway');
  const server = app.getHttpServer() as Server;
  const drainMs = config.http.shutdownTimeoutMs;
  logger.log(`${sig}: refusing new connections, finishing requests in flight (at most ${drainMs} ms)`);
  server.close();
  // A kept-alive connection whose request has finished would hold the drain until its keep-alive timeout.
  setInterval(() => server.closeIdleConnections(), 200).unref();
  setTimeout(() => {
    logger.warn(`requests still in flight after ${drainMs} ms (GATEWAY_SHUTDOWN_TIMEOUT_MS); closing their connections`);
    server.closeAllConnections();
  }, drainMs).unref();
  // Embedded mode also hands back or finishes its jobs first (WORKER_SHUTDOWN_TIMEOUT_MS).
  const hardMs = drainMs + (config.mode === 'embedded' ? config.queue.shutdownTimeoutMs : 0) + 5000;
  setTimeout(() => {
    logger.error(`shutdown did not finish within ${hardMs} ms; exiting`);
    process.exit(1);
  }, hardMs).unref();
  app.close().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error(`shutdown failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
