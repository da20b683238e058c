/**
 * The gateway for `npm run bench:serve`, in a process of its own so the load generator does not share its event loop:
 * embedded mode (SQLite, in-process jobs) in a temporary STORAGE_PATH, development mode (the demo key), no rate
 * limit, on a free loopback port. Prints `{"port": N}` on stdout once listening; SIGTERM or SIGINT closes it.
 */
import { loadConfig } from '@app/config';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { createGateway } from '../apps/gateway/src/bootstrap';

async function main(): Promise<void> {
  const storage = mkdtempSync(join(tmpdir(), 'bench-serve-'));
  const config = loadConfig({ ...process.env, NODE_ENV: 'development', STORAGE_PATH: storage, RATE_LIMIT_ENABLED: 'false', DATABASE_URL: '', REDIS_URL: '', API_PORT: '0' });
  const app = await createGateway(config, { logger: process.env.BENCH_GATEWAY_LOG ? ['error', 'warn', 'log'] : false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await app.close().catch((err: unknown) => console.error(err));
    rmSync(storage, { recursive: true, force: true });
    process.exit(0);
  };
  process.once('SIGTERM', () => void close());
  process.once('SIGINT', () => void close());
  // The parent dying (its pipe closing) ends the gateway too.
  process.stdin.on('end', () => void close());
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ port, pid: process.pid })}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
