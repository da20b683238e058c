/**
 * Standalone server for one ONNX model (one Kubernetes Deployment per model): `node dist/apps/serve/src/main.js`.
 * Dependency-free apart from @app/serving; configured only by environment variables (see serve.config.ts).
 */
import { readFileSync } from 'node:fs';
import { OnnxModelError, ServingPool } from '@app/serving';
import { loadServeConfig, ServeConfigError, type ServeConfig } from './serve.config';
import { createServeServer } from './serve.server';

const log = (line: Record<string, unknown>) => (line.level === 'error' ? process.stderr : process.stdout).write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);

function fail(message: string): never {
  process.stderr.write(`serve: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config: ServeConfig;
  try {
    config = loadServeConfig(process.env);
  } catch (err) {
    if (err instanceof ServeConfigError) fail(err.message);
    throw err;
  }
  let model: Buffer;
  try {
    model = readFileSync(config.modelPath);
  } catch (err) {
    fail(`MODEL_PATH=${config.modelPath} cannot be read: ${(err as Error).message}`);
  }
  let pool: ServingPool;
  try {
    pool = await ServingPool.start({
      model,
      replicas: config.replicas,
      intraOpThreads: config.intraOpThreads,
      maxQueuePerReplica: config.maxQueuePerReplica,
      timeoutMs: config.timeoutMs,
    });
  } catch (err) {
    if (err instanceof OnnxModelError) fail(`MODEL_PATH=${config.modelPath}: ${err.message}`);
    throw err;
  }
  const { server, shutdown } = createServeServer(pool, config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log({ level: 'info', msg: 'shutting down', signal });
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => fail(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  server.on('error', (err) => fail(`cannot listen on ${config.host}:${config.port}: ${err.message}`));
  server.listen(config.port, config.host, () => {
    const address = server.address();
    log({
      level: 'info',
      msg: 'serving',
      model: config.modelPath,
      port: typeof address === 'object' && address ? address.port : config.port,
      host: config.host,
      replicas: pool.readyReplicas,
      input: pool.signature.inputShape,
      output: pool.signature.outputShape,
      output_kind: config.outputKind,
    });
  });
}

main().catch((err: unknown) => fail(`failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
