import { Test, type TestingModule } from '@nestjs/testing';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import Redis from 'ioredis';
import { randomUUID } from 'crypto';
import { createServer, type AddressInfo, type Socket } from 'net';
import { loadConfig } from '@app/config';
import { QUEUES, type JobPayload } from '@app/contracts';
import { BullQueueDriver } from './bull-queue.driver';
import { QueueDriver } from './queue.driver';
import { QueueModule } from './queue.module';
import { RedisWorkerHeartbeat, WorkerHeartbeat } from './worker-heartbeat.service';
import { QueueUnavailableError } from './queue.errors';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const config = loadConfig({ DATABASE_URL: 'postgres://unused@127.0.0.1/unused', REDIS_URL });

/** Resolves with the first value `next()` yields that satisfies `done`, polling Redis-backed state. */
async function until<T>(next: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await next();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('BullQueueDriver (real Redis)', () => {
  const prefix = `test-queue-${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  let moduleRef: TestingModule;
  let driver: BullQueueDriver;
  let queue: Queue;
  const payload = (): JobPayload => ({ jobId: randomUUID(), tenantId: randomUUID() });

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({ imports: [QueueModule.forRoot(config, { prefix })] }).compile();
    await moduleRef.init();
    driver = moduleRef.get(QueueDriver);
    queue = moduleRef.get(getQueueToken(QUEUES.compile));
    await queue.isReady();
  });

  afterEach(async () => {
    await moduleRef.close();
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('is the Bull driver in distributed mode, with the job options that leave state to the database', () => {
    expect(driver).toBeInstanceOf(BullQueueDriver);
    expect((queue as unknown as { defaultJobOptions: unknown }).defaultJobOptions).toMatchObject({ removeOnComplete: true, removeOnFail: true, attempts: 1 });
    expect((queue as unknown as { settings: { maxStalledCount: number } }).settings.maxStalledCount).toBe(0);
  });

  it('delivers an enqueued job to the handler once, then forgets it', async () => {
    const p = payload();
    const seen: JobPayload[] = [];
    await driver.enqueue(QUEUES.compile, p);
    expect(await driver.isKnown(QUEUES.compile, p.jobId)).toBe(true);
    expect((await queue.getJob(p.jobId))?.data).toEqual(p);
    driver.process(QUEUES.compile, 2, async (job) => {
      seen.push(job);
    });
    await until(() => driver.isKnown(QUEUES.compile, p.jobId), (known) => !known);
    expect(seen).toEqual([p]);
    expect(await queue.getJob(p.jobId)).toBeNull();
  });

  it('ignores a second enqueue of a job id that is still waiting', async () => {
    const p = payload();
    await driver.enqueue(QUEUES.compile, p);
    await driver.enqueue(QUEUES.compile, p);
    expect(await queue.getWaitingCount()).toBe(1);
    const seen: string[] = [];
    driver.process(QUEUES.compile, 1, async (job) => {
      seen.push(job.jobId);
    });
    await until(() => queue.getWaitingCount(), (n) => n === 0);
    await until(() => driver.isKnown(QUEUES.compile, p.jobId), (known) => !known);
    expect(seen).toEqual([p.jobId]);
  });

  it('ignores an enqueue of a job id that is running, and accepts it again after', async () => {
    const p = payload();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let runs = 0;
    driver.process(QUEUES.compile, 1, async () => {
      runs++;
      if (runs === 1) await held;
    });
    await driver.enqueue(QUEUES.compile, p);
    await until(() => queue.getActiveCount(), (n) => n === 1);
    await driver.enqueue(QUEUES.compile, p);
    expect(await driver.isKnown(QUEUES.compile, p.jobId)).toBe(true);
    expect(await queue.getWaitingCount()).toBe(0);
    release();
    await until(() => driver.isKnown(QUEUES.compile, p.jobId), (known) => !known);
    expect(runs).toBe(1);
    await driver.enqueue(QUEUES.compile, p);
    await until(async () => runs, (n) => n === 2);
  });

  it('replaces a finished leftover with the same id instead of silently dropping the enqueue', async () => {
    const p = payload();
    // A failed job kept by Bull (e.g. added by an older release without removeOnFail) blocks its id.
    await queue.add(p, { jobId: p.jobId, removeOnFail: false });
    const taken = await queue.getNextJob();
    expect(taken?.id).toBe(p.jobId);
    await taken!.moveToFailed({ message: 'worker lost' }, true);
    await taken!.releaseLock();
    expect(await (await queue.getJob(p.jobId))!.getState()).toBe('failed');
    expect(await driver.isKnown(QUEUES.compile, p.jobId)).toBe(false);

    await driver.enqueue(QUEUES.compile, p);
    expect(await driver.isKnown(QUEUES.compile, p.jobId)).toBe(true);
    const seen: string[] = [];
    driver.process(QUEUES.compile, 1, async (job) => {
      seen.push(job.jobId);
    });
    await until(async () => seen, (s) => s.length === 1);
    expect(seen).toEqual([p.jobId]);
  });

  it('reports an unknown id as unknown and keeps queues apart', async () => {
    const p = payload();
    await driver.enqueue(QUEUES.train, p);
    expect(await driver.isKnown(QUEUES.train, p.jobId)).toBe(true);
    expect(await driver.isKnown(QUEUES.compile, p.jobId)).toBe(false);
    expect(await driver.isKnown(QUEUES.train, randomUUID())).toBe(false);
  });

  it('delays an entry and keys it by its queue id', async () => {
    const p = payload();
    const seen: Array<{ id: string; at: number }> = [];
    const started = Date.now();
    await driver.enqueue(QUEUES.webhook, p, { queueId: `${p.jobId}.2`, delayMs: 300 });
    expect(await driver.isKnown(QUEUES.webhook, `${p.jobId}.2`)).toBe(true);
    expect(await driver.isKnown(QUEUES.webhook, p.jobId)).toBe(false);
    expect(await (await driver.queue(QUEUES.webhook).getJob(`${p.jobId}.2`))!.getState()).toBe('delayed');
    driver.process(QUEUES.webhook, 1, async (job) => {
      seen.push({ id: job.jobId, at: Date.now() });
    });
    await until(async () => seen, (s) => s.length === 1);
    expect(seen[0].id).toBe(p.jobId);
    expect(seen[0].at - started).toBeGreaterThanOrEqual(280);
  });

  it('counts an active job as lost once no worker holds its lock (its worker died)', async () => {
    const p = payload();
    await driver.enqueue(QUEUES.compile, p);
    // A consumer that takes the job and dies: it never renews the lock.
    const taken = await queue.getNextJob();
    expect(taken?.id).toBe(p.jobId);
    expect(await driver.isKnown(QUEUES.compile, p.jobId)).toBe(true);
    await redis.del(`${prefix}:${QUEUES.compile}:${p.jobId}:lock`);
    expect(await (await queue.getJob(p.jobId))!.getState()).toBe('active');
    expect(await driver.isKnown(QUEUES.compile, p.jobId)).toBe(false);
    // Enqueued again (the reconciler's requeue), it replaces the dead entry and runs.
    await driver.enqueue(QUEUES.compile, p);
    expect(await (await queue.getJob(p.jobId))!.getState()).toBe('waiting');
    const seen: string[] = [];
    driver.process(QUEUES.compile, 1, async (job) => {
      seen.push(job.jobId);
    });
    await until(async () => seen, (s) => s.length === 1);
  });

  it('is healthy against a live Redis', async () => {
    expect(await driver.health()).toBe('healthy');
  });

  it('adds a job handed back by its own handler during close() once that run has settled, for another worker', async () => {
    const p = payload();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    let release!: () => void;
    const stopping = new Promise<void>((r) => (release = r));
    driver.process(QUEUES.compile, 1, async (job) => {
      started();
      await stopping;
      await driver.enqueue(QUEUES.compile, job, { handBack: true });
    });
    await driver.enqueue(QUEUES.compile, p);
    await running;
    const closed = driver.close();
    release();
    await closed;
    const probe = new Redis(REDIS_URL);
    try {
      // Waiting again under the job's own id, so the reconciler's isKnown sees it and no duplicate is added.
      const waiting = await probe.lrange(`${prefix}:${QUEUES.compile}:wait`, 0, -1);
      expect(waiting).toEqual([p.jobId]);
    } finally {
      probe.disconnect();
    }
  });

  it('close() lets the running job finish', async () => {
    const p = payload();
    let finished = false;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    driver.process(QUEUES.compile, 1, async () => {
      started();
      await new Promise((r) => setTimeout(r, 100));
      finished = true;
    });
    await driver.enqueue(QUEUES.compile, p);
    await running;
    await driver.close();
    expect(finished).toBe(true);
  });

  it('keeps the worker heartbeat in Redis under the prefix', async () => {
    const heartbeat = moduleRef.get(WorkerHeartbeat);
    const at = new Date(Date.now() - 1234);
    await heartbeat.beat(at);
    expect(await heartbeat.lastBeat()).toEqual(at);
    expect(await redis.ttl(`${prefix}:worker:heartbeat`)).toBeGreaterThan(0);
    await redis.del(`${prefix}:worker:heartbeat`);
    expect(await heartbeat.lastBeat()).toBeNull();
  });
});

describe('BullQueueDriver against a Redis that does not answer', () => {
  it('answers unhealthy and fails enqueue and heartbeat calls with QueueUnavailableError instead of hanging', async () => {
    // Accepts connections and never replies: the worst case, where ioredis queues commands forever.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const Bull = (await import('bull')).default;
    const dead = Object.fromEntries(
      Object.values(QUEUES).map((name) => [name, new Bull(name, `redis://127.0.0.1:${port}`, { redis: { retryStrategy: () => null } })]),
    ) as ConstructorParameters<typeof BullQueueDriver>[0];
    const driver = new BullQueueDriver(dead, { commandTimeoutMs: 300 });
    try {
      expect(await driver.health()).toBe('unhealthy');
      const started = Date.now();
      await expect(driver.enqueue(QUEUES.compile, { jobId: randomUUID(), tenantId: randomUUID() })).rejects.toBeInstanceOf(QueueUnavailableError);
      expect(Date.now() - started).toBeLessThan(2000);
      const heartbeat = new RedisWorkerHeartbeat(dead[QUEUES.compile].client, 'unused:worker:heartbeat', 300);
      await expect(heartbeat.lastBeat()).rejects.toBeInstanceOf(QueueUnavailableError);
      await expect(heartbeat.beat()).rejects.toBeInstanceOf(QueueUnavailableError);
    } finally {
      for (const q of Object.values(dead)) for (const c of q.clients) c.disconnect();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('BullQueueDriver while its Redis is away', () => {
  it('fails at once while reconnecting, instead of holding every call for the whole command timeout', async () => {
    // A port nobody listens on: ioredis keeps reconnecting and would hold every command in its offline queue.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const Bull = (await import('bull')).default;
    const away = Object.fromEntries(
      Object.values(QUEUES).map((name) => [name, new Bull(name, `redis://127.0.0.1:${port}`, { redis: { retryStrategy: () => 200 } })]),
    ) as ConstructorParameters<typeof BullQueueDriver>[0];
    const driver = new BullQueueDriver(away, { commandTimeoutMs: 30_000 });
    try {
      for (const q of Object.values(away)) await until(async () => q.client.status, (s) => s === 'reconnecting');
      const started = Date.now();
      const err = await driver.enqueue(QUEUES.train, { jobId: randomUUID(), tenantId: randomUUID() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QueueUnavailableError);
      expect((err as Error).message).toMatch(/Redis is unreachable \(connection reconnecting; could not enqueue job/);
      expect(await driver.health()).toBe('unhealthy');
      await expect(new RedisWorkerHeartbeat(away[QUEUES.compile].client, 'unused:worker:heartbeat', 30_000).lastBeat()).rejects.toBeInstanceOf(QueueUnavailableError);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      for (const q of Object.values(away)) for (const c of q.clients) c.disconnect();
    }
  });
});
