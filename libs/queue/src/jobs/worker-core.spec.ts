import { getQueueToken } from '@nestjs/bull';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Queue } from 'bull';
import { randomBytes, randomUUID } from 'crypto';
import { readdir } from 'fs/promises';
import { join } from 'path';
import { AppConfigModule, type AppConfig } from '@app/config';
import { FINISHED_STATUSES, QUEUES, type CompileRequest, type CompileResult } from '@app/contracts';
import { JobsRepository, ModelsRepository, PersistenceModule, TenantsRepository, type JobEntity } from '@app/persistence';
import { ArtifactStore, StorageModule } from '@app/storage';
import { openTestDatabase, testRedisUrl, type TestDatabase } from '@app/testing';
import { InlineQueueDriver } from '../inline-queue.driver';
import { QueueDriver } from '../queue.driver';
import { QueueModule } from '../queue.module';
import { WorkerHeartbeat } from '../worker-heartbeat.service';
import { PENDING_GRACE_MS, Reconciler } from './reconciler.service';
import { WorkerCoreModule } from './worker-core.module';

/** The seed README's compile example. */
const SEED_DSL = 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';
const SEED_REQUEST: CompileRequest = { dsl_code: SEED_DSL, backend: 'tensorflow', dataset: 'MNIST' };
/** Takes a few hundred milliseconds to compile: ~16M ONNX weights. */
const SLOW_REQUEST: CompileRequest = { dsl_code: 'network Slow {\n  input: (28, 28, 1)\n  layers:\n    Flatten()\n    Dense(20000)\n    Output(10)\n}\n', backend: 'onnx' };
/** About 3 GB of ONNX weights: far longer than the compile timeout. */
const HUGE_REQUEST: CompileRequest = { dsl_code: 'network Huge {\n  input: (28, 28, 1)\n  layers:\n    Flatten()\n    Dense(1000000)\n    Output(10)\n}\n', backend: 'onnx' };

const MODES = [
  { mode: 'embedded', dialect: 'sqlite' },
  { mode: 'distributed', dialect: 'postgres' },
] as const;

interface WorkerUnderTest {
  moduleRef: TestingModule;
  jobs: JobsRepository;
  driver: QueueDriver;
  reconciler: Reconciler;
}

async function startWorker(config: AppConfig, prefix: string): Promise<WorkerUnderTest> {
  const moduleRef = await Test.createTestingModule({
    imports: [AppConfigModule.forRoot(config), PersistenceModule.forRoot(), StorageModule.forRoot(), QueueModule.forRoot(config, { prefix }), WorkerCoreModule],
  })
    .setLogger({ log: () => undefined, error: () => undefined, warn: () => undefined, debug: () => undefined, verbose: () => undefined })
    .compile();
  await moduleRef.init();
  const reconciler = moduleRef.get(Reconciler);
  // The tests drive the reconciler themselves, at chosen clock values.
  await reconciler.stop();
  return { moduleRef, jobs: moduleRef.get(JobsRepository), driver: moduleRef.get(QueueDriver), reconciler };
}

describe.each(MODES)('worker core in $mode mode ($dialect)', ({ mode, dialect }) => {
  const prefix = `neural_test_${randomBytes(5).toString('hex')}`;
  let db: TestDatabase;
  let config: AppConfig;
  let worker: WorkerUnderTest;
  let tenantId: string;

  beforeAll(async () => {
    db = await openTestDatabase(dialect);
    config = {
      ...db.config,
      mode,
      redis: { ...db.config.redis, url: mode === 'distributed' ? testRedisUrl() : undefined, prefix },
      queue: { ...db.config.queue, concurrency: 2, maxAttempts: 2, stallTimeoutSeconds: 60, reconcileIntervalSeconds: 3600, compileTimeoutMs: 20_000 },
    };
    worker = await startWorker(config, prefix);
    tenantId = (await worker.moduleRef.get(TenantsRepository).create(`queue-${mode}`)).id;
  });

  afterAll(async () => {
    await worker?.moduleRef.close();
    if (mode === 'distributed') await deleteKeys(prefix);
    await db?.close();
  });

  /** Resolves with the job once it has finished (completed, failed or cancelled). */
  async function finished(id: string, timeoutMs = 20_000): Promise<JobEntity> {
    if (worker.driver instanceof InlineQueueDriver) await worker.driver.onIdle();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = (await worker.jobs.findForTenant(tenantId, id))!;
      if (FINISHED_STATUSES.includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const submit = async (input: CompileRequest = SEED_REQUEST): Promise<JobEntity> => {
    const job = await worker.jobs.create({ tenantId, type: 'compile', input });
    await worker.driver.enqueue(QUEUES.compile, { jobId: job.id, tenantId });
    return job;
  };

  /** The reconciler's clock, far enough ahead that every pending row is past the grace and every running row stalled. */
  const later = () => new Date(Date.now() + Math.max(PENDING_GRACE_MS, config.queue.stallTimeoutSeconds * 1000) + 1000);

  it('runs a compile job to completion and registers the model with its artifact', async () => {
    const job = await submit();
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'completed', progress: 100, attempts: 1, error: null });
    expect(done.startedAt).toBeInstanceOf(Date);
    expect(done.completedAt).toBeInstanceOf(Date);
    const result = done.result as CompileResult;
    expect(result).toMatchObject({ backend: 'tensorflow', status: 'completed', download_url: `/models/${result.model_id}/download` });
    expect(result.compiled_code).toContain('tensorflow');
    expect(result.summary).toMatchObject({ name: 'MyModel', output_shape: [null, 10] });
    expect(done.modelId).toBe(result.model_id);

    const model = (await worker.moduleRef.get(ModelsRepository).findForTenant(tenantId, result.model_id))!;
    expect(model).toMatchObject({ jobId: job.id, backend: 'tensorflow', name: 'MyModel', dsl: SEED_DSL, artifactKey: `${tenantId}/${result.model_id}/model.py` });
    const file = await worker.moduleRef.get(ArtifactStore).get(model.artifactKey);
    expect(file.toString('utf8')).toBe(result.compiled_code);
    expect(model.sizeBytes).toBe(file.length);
  });

  it('fails a job with invalid DSL with the diagnostics, and registers no model', async () => {
    const job = await submit({ dsl_code: 'Model Bad {\n  Input(shape=[28, 28, 1])\n  Dense(units=0)\n  Frobnicate(3)\n}', backend: 'pytorch' });
    const done = await finished(job.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'dsl_error', detail: expect.stringMatching(/^line 3, column \d+: /) });
    const errors = done.error!.errors as Array<Record<string, unknown>>;
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toEqual(expect.objectContaining({ line: 3, column: expect.any(Number), message: expect.any(String) }));
    expect(done.result).toBeNull();
    expect(done.modelId).toBeNull();
    expect((await worker.moduleRef.get(ModelsRepository).list(tenantId, { skip: 0, limit: 100 })).items.some((m) => m.jobId === job.id)).toBe(false);
  });

  it('leaves a job cancelled before a worker took it alone', async () => {
    const job = await worker.jobs.create({ tenantId, type: 'compile', input: SEED_REQUEST });
    expect(await worker.jobs.markCancelled(tenantId, job.id)).toBe(true);
    await worker.driver.enqueue(QUEUES.compile, { jobId: job.id, tenantId });
    await waitUntilUnknown(worker.driver, job.id);
    const after = (await worker.jobs.findForTenant(tenantId, job.id))!;
    expect(after).toMatchObject({ status: 'cancelled', attempts: 0, result: null });
  });

  it('discards the model of a job cancelled while it was compiling', async () => {
    const job = await submit(SLOW_REQUEST);
    await until(async () => (await worker.jobs.findForTenant(tenantId, job.id))!.status, (s) => s !== 'pending');
    expect(await worker.jobs.markCancelled(tenantId, job.id)).toBe(true);
    await waitUntilUnknown(worker.driver, job.id);
    const after = (await worker.jobs.findForTenant(tenantId, job.id))!;
    expect(after).toMatchObject({ status: 'cancelled', result: null, modelId: null });
    const models = await worker.moduleRef.get(ModelsRepository).list(tenantId, { skip: 0, limit: 1000 });
    expect(models.items.filter((m) => m.jobId === job.id)).toEqual([]);
    const files = await readdir(join(config.storage.modelsPath, tenantId), { recursive: true });
    expect(files.filter((f) => String(f).endsWith('model.onnx'))).toEqual([]);
  });

  it('fails a job queued under another tenant instead of running it', async () => {
    const job = await worker.jobs.create({ tenantId, type: 'compile', input: SEED_REQUEST });
    await worker.driver.enqueue(QUEUES.compile, { jobId: job.id, tenantId: randomUUID() });
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'failed', result: null, error: { code: 'internal_error', detail: expect.stringContaining('does not belong') } });
  });

  it('reconciler: re-enqueues a pending job the transport does not have, and it completes', async () => {
    // The row exists but its queue entry was lost (Redis flushed, or the process died between insert and enqueue).
    const job = await worker.jobs.create({ tenantId, type: 'compile', input: SEED_REQUEST });
    expect(await worker.driver.isKnown(QUEUES.compile, job.id)).toBe(false);
    const report = await worker.reconciler.reconcile(later());
    expect(report.reenqueued).toContain(job.id);
    expect((await finished(job.id)).status).toBe('completed');
  });

  it('reconciler: leaves a pending job younger than the grace period alone', async () => {
    const job = await worker.jobs.create({ tenantId, type: 'deploy', input: {} });
    const report = await worker.reconciler.reconcile(new Date());
    expect(report.reenqueued).not.toContain(job.id);
    expect(await worker.driver.isKnown(QUEUES.deploy, job.id)).toBe(false);
  });

  it('reconciler: leaves stale-looking jobs alone while the transport still holds them', async () => {
    // Delayed entries wait in their queue, untouched by the consumer: known to the transport.
    const pending = await worker.jobs.create({ tenantId, type: 'deploy', input: {} });
    const running = await worker.jobs.create({ tenantId, type: 'deploy', input: {} });
    await worker.driver.enqueue(QUEUES.deploy, { jobId: pending.id, tenantId }, { delayMs: 600_000 });
    await worker.driver.enqueue(QUEUES.deploy, { jobId: running.id, tenantId }, { delayMs: 600_000 });
    await worker.jobs.markRunning(running.id);
    const report = await worker.reconciler.reconcile(later());
    expect([...report.reenqueued, ...report.requeued, ...report.failed]).not.toContain(pending.id);
    expect([...report.reenqueued, ...report.requeued, ...report.failed]).not.toContain(running.id);
    expect((await worker.jobs.findForTenant(tenantId, running.id))!.status).toBe('running');
  });

  it('reconciler: requeues a running job whose worker was lost, and the retry completes', async () => {
    const job = await worker.jobs.create({ tenantId, type: 'compile', input: SEED_REQUEST });
    expect(await worker.jobs.markRunning(job.id)).toBe(true); // a worker took it, then died
    const report = await worker.reconciler.reconcile(later());
    expect(report.requeued).toContain(job.id);
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'completed', attempts: 2 });
  });

  it('reconciler: fails a lost running job that has used all its attempts, with the reason', async () => {
    const job = await worker.jobs.create({ tenantId, type: 'compile', input: SEED_REQUEST });
    for (let attempt = 1; attempt <= config.queue.maxAttempts; attempt++) {
      expect(await worker.jobs.markRunning(job.id)).toBe(true);
      if (attempt < config.queue.maxAttempts) expect(await worker.jobs.requeue(job.id)).toBe(true);
    }
    const report = await worker.reconciler.reconcile(later());
    expect(report.failed).toContain(job.id);
    const failed = (await worker.jobs.findForTenant(tenantId, job.id))!;
    expect(failed).toMatchObject({ status: 'failed', attempts: config.queue.maxAttempts });
    expect(failed.error).toEqual({ code: 'job_lost', detail: expect.stringContaining('the worker running this job stopped') });
    expect(failed.completedAt).toBeInstanceOf(Date);
    expect(await worker.driver.isKnown(QUEUES.compile, job.id)).toBe(false);
  });

  it('beats the worker heartbeat', async () => {
    const last = await worker.moduleRef.get(WorkerHeartbeat).lastBeat();
    expect(last).toBeInstanceOf(Date);
    expect(Date.now() - last!.getTime()).toBeLessThan(60_000);
  });

  if (mode === 'distributed') {
    it('reconciler: a job enqueued before Redis lost its keys is re-enqueued and completes', async () => {
      const queue = worker.moduleRef.get<Queue>(getQueueToken(QUEUES.compile));
      await queue.pause(true); // this worker stops taking jobs, so the entry stays in Redis until we delete it
      try {
        const job = await submit();
        expect(await worker.driver.isKnown(QUEUES.compile, job.id)).toBe(true);
        expect(await deleteKeys(`${prefix}:${QUEUES.compile}:`)).toBeGreaterThan(0);
        expect(await worker.driver.isKnown(QUEUES.compile, job.id)).toBe(false);
        await queue.resume(true);
        const report = await worker.reconciler.reconcile(later());
        expect(report.reenqueued).toContain(job.id);
        expect((await finished(job.id)).status).toBe('completed');
      } finally {
        await queue.resume(true);
      }
    });
  }

  it('finishes the running job before shutting down', async () => {
    const other = await startWorker(config, prefix);
    // Only the second worker consumes from here on; the first one's consumers stop.
    await worker.moduleRef.close();
    const job = await other.jobs.create({ tenantId, type: 'compile', input: SLOW_REQUEST });
    await other.driver.enqueue(QUEUES.compile, { jobId: job.id, tenantId });
    const deadline = Date.now() + 20_000;
    while ((await other.jobs.findForTenant(tenantId, job.id))!.status === 'pending' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect((await other.jobs.findForTenant(tenantId, job.id))!.status).toBe('running');
    await other.moduleRef.close();
    worker = await startWorker(config, prefix);
    const done = (await worker.jobs.findForTenant(tenantId, job.id))!;
    expect(done).toMatchObject({ status: 'completed', attempts: 1 });
  });
});

describe('compile job limits (embedded)', () => {
  it('fails a job whose compile exceeds the timeout with compile_timeout', async () => {
    const db = await openTestDatabase('sqlite');
    const config: AppConfig = { ...db.config, queue: { ...db.config.queue, compileTimeoutMs: 1000 } };
    const worker = await startWorker(config, 'unused');
    try {
      const tenantId = (await worker.moduleRef.get(TenantsRepository).create('limits')).id;
      const job = await worker.jobs.create({ tenantId, type: 'compile', input: HUGE_REQUEST });
      await worker.driver.enqueue(QUEUES.compile, { jobId: job.id, tenantId });
      await (worker.driver as InlineQueueDriver).onIdle();
      const done = (await worker.jobs.findForTenant(tenantId, job.id))!;
      expect(done.status).toBe('failed');
      expect(done.error).toMatchObject({ code: 'compile_timeout', detail: expect.stringContaining('1000 ms') });
    } finally {
      await worker.moduleRef.close();
      await db.close();
    }
  });
});

async function waitUntilUnknown(driver: QueueDriver, jobId: string): Promise<void> {
  if (driver instanceof InlineQueueDriver) return driver.onIdle();
  const deadline = Date.now() + 10_000;
  while (await driver.isKnown(QUEUES.compile, jobId)) {
    if (Date.now() > deadline) throw new Error(`job ${jobId} still in the queue`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function deleteKeys(prefix: string): Promise<number> {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(testRedisUrl());
  try {
    const keys = await redis.keys(`${prefix}*`);
    return keys.length ? await redis.del(...keys) : 0;
  } finally {
    redis.disconnect();
  }
}

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
