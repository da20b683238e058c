import type { INestApplicationContext } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import Redis from 'ioredis';
import { join } from 'path';
import { AppConfigModule, loadConfig, type AppConfig } from '@app/config';
import { FINISHED_STATUSES, QUEUES, type CompileRequest } from '@app/contracts';
import { JobsRepository, PersistenceModule, TenantsRepository, type JobEntity } from '@app/persistence';
import { QueueDriver, QueueModule, WorkerHeartbeat } from '@app/queue';
import { StorageModule } from '@app/storage';
import { createTempDir, createThrowawayPostgres, testRedisUrl, type TempDir, type ThrowawayPostgres } from '@app/testing';
import { createWorker, WorkerModeError } from './bootstrap';

const ROOT = join(__dirname, '../../..');
const SEED_REQUEST: CompileRequest = {
  dsl_code: 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}',
  backend: 'tensorflow',
  dataset: 'MNIST',
};
/** Takes a few hundred milliseconds to compile (~16M ONNX weights). */
const SLOW_REQUEST: CompileRequest = { dsl_code: 'network Slow {\n  input: (28, 28, 1)\n  layers:\n    Flatten()\n    Dense(20000)\n    Output(10)\n}\n', backend: 'onnx' };
const quiet = { log: () => undefined, error: () => undefined, warn: () => undefined, debug: () => undefined, verbose: () => undefined };

/** Runs `apps/worker/src/main.ts` with exactly `env` and returns its exit code and output. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(__dirname, 'main.ts')], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('worker main', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await createTempDir();
  });
  afterAll(() => dir.remove());

  it('refuses to start in embedded mode, saying why', async () => {
    const { code, output } = await runMain({ STORAGE_PATH: dir.path });
    expect(code).toBe(1);
    expect(output).toContain('the worker runs only in distributed mode: set both DATABASE_URL and REDIS_URL');
  });

  it('exits 1 naming the variable on a bad configuration', async () => {
    const { code, output } = await runMain({ STORAGE_PATH: dir.path, DATABASE_URL: 'postgres://u@127.0.0.1/x', REDIS_URL: 'redis://127.0.0.1:6379', WORKER_CONCURRENCY: 'lots' });
    expect(code).toBe(1);
    expect(output).toContain('WORKER_CONCURRENCY="lots"');
  });

  it('createWorker() throws WorkerModeError in embedded mode', async () => {
    await expect(createWorker(loadConfig({ NODE_ENV: 'test', STORAGE_PATH: dir.path }), { logger: false })).rejects.toBeInstanceOf(WorkerModeError);
  });
});

describe('standalone workers (PostgreSQL + Redis)', () => {
  const prefix = `neural_test_${randomBytes(5).toString('hex')}`;
  let pg: ThrowawayPostgres;
  let dir: TempDir;
  let config: AppConfig;
  /** The gateway's side: produces jobs, consumes nothing. */
  let producer: TestingModule;
  let jobs: JobsRepository;
  let queue: QueueDriver;
  let tenantId: string;
  const workers: INestApplicationContext[] = [];

  beforeAll(async () => {
    pg = await createThrowawayPostgres();
    dir = await createTempDir();
    config = loadConfig({ NODE_ENV: 'test', STORAGE_PATH: dir.path, DATABASE_URL: pg.url, REDIS_URL: testRedisUrl(), WORKER_CONCURRENCY: '2' });
    producer = await Test.createTestingModule({ imports: [AppConfigModule.forRoot(config), PersistenceModule.forRoot(), StorageModule.forRoot(), QueueModule.forRoot(config, { prefix })] })
      .setLogger(quiet)
      .compile();
    await producer.init();
    jobs = producer.get(JobsRepository);
    queue = producer.get(QueueDriver);
    tenantId = (await producer.get(TenantsRepository).create('worker-e2e')).id;
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close().catch(() => undefined)));
    await producer?.close();
    const redis = new Redis(testRedisUrl());
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await pg?.drop();
    await dir?.remove();
  });

  const startWorker = async () => {
    const worker = await createWorker(config, { queuePrefix: prefix, logger: false });
    workers.push(worker);
    return worker;
  };

  const submit = async (input: CompileRequest): Promise<JobEntity> => {
    const job = await jobs.create({ tenantId, type: 'compile', input });
    await queue.enqueue(QUEUES.compile, { jobId: job.id, tenantId });
    return job;
  };

  async function finished(ids: string[], timeoutMs = 30_000): Promise<JobEntity[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await Promise.all(ids.map(async (id) => (await jobs.findForTenant(tenantId, id))!));
      if (rows.every((r) => FINISHED_STATUSES.includes(r.status))) return rows;
      if (Date.now() > deadline) throw new Error(`jobs not finished after ${timeoutMs} ms: ${rows.map((r) => r.status).join(', ')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('two workers share the queue and run every job exactly once', async () => {
    await Promise.all([startWorker(), startWorker()]);
    const submitted = await Promise.all(Array.from({ length: 8 }, () => submit(SEED_REQUEST)));
    const rows = await finished(submitted.map((j) => j.id));
    for (const row of rows) expect(row).toMatchObject({ status: 'completed', attempts: 1 });
    const lastBeat = await producer.get(WorkerHeartbeat).lastBeat();
    expect(Date.now() - lastBeat!.getTime()).toBeLessThan(30_000);
  });

  it('close() lets the job in progress finish before the worker stops', async () => {
    await Promise.all(workers.splice(0).map((w) => w.close()));
    const worker = await startWorker();
    const job = await submit(SLOW_REQUEST);
    const deadline = Date.now() + 20_000;
    while ((await jobs.findForTenant(tenantId, job.id))!.status === 'pending' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect((await jobs.findForTenant(tenantId, job.id))!.status).toBe('running');
    await worker.close();
    expect(await jobs.findForTenant(tenantId, job.id)).toMatchObject({ status: 'completed', attempts: 1 });
  });
});
