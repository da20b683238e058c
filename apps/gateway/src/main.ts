import 'reflect-metadata';
import { loadConfigOrExit } from '@app/config';
import { Logger } from '@nestjs/common';
import cluster from 'node:cluster';
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
  app.enableShutdownHooks();
  await app.listen(config.http.port, config.http.host);
  new Logger('Gateway').log(`listening on http://${config.http.host}:${config.http.port} (${config.mode} mode)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
