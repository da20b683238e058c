import { QUEUES, type JobPayload } from '@app/contracts';
import { InlineQueueDriver } from './inline-queue.driver';
import { QueueUnavailableError } from './queue.errors';

const job = (n: number): JobPayload => ({ jobId: `job-${n}`, tenantId: 'tenant-a' });

/** A promise with its resolver, to hold a handler open while the test looks at the driver. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('InlineQueueDriver', () => {
  let driver: InlineQueueDriver;

  beforeEach(() => {
    driver = new InlineQueueDriver();
  });

  afterEach(async () => {
    await driver.close();
  });

  it('runs each enqueued job once, in FIFO order', async () => {
    const seen: string[] = [];
    driver.process(QUEUES.compile, 1, async (p) => {
      seen.push(p.jobId);
    });
    for (const n of [1, 2, 3]) await driver.enqueue(QUEUES.compile, job(n));
    await driver.onIdle();
    expect(seen).toEqual(['job-1', 'job-2', 'job-3']);
  });

  it('keeps jobs enqueued before a handler exists until process() is called', async () => {
    await driver.enqueue(QUEUES.compile, job(1));
    await new Promise((r) => setImmediate(r));
    expect(await driver.isKnown(QUEUES.compile, 'job-1')).toBe(true);
    const seen: JobPayload[] = [];
    driver.process(QUEUES.compile, 1, async (p) => {
      seen.push(p);
    });
    await driver.onIdle();
    expect(seen).toEqual([job(1)]);
    expect(await driver.isKnown(QUEUES.compile, 'job-1')).toBe(false);
  });

  it('ignores a second enqueue of a waiting or running id, and accepts it again once finished', async () => {
    const hold = gate();
    let runs = 0;
    driver.process(QUEUES.compile, 1, async () => {
      runs++;
      await hold.promise;
    });
    await driver.enqueue(QUEUES.compile, job(1));
    await driver.enqueue(QUEUES.compile, job(1)); // still waiting
    await new Promise((r) => setImmediate(r));
    expect(await driver.isKnown(QUEUES.compile, 'job-1')).toBe(true);
    await driver.enqueue(QUEUES.compile, job(1)); // now running
    hold.open();
    await driver.onIdle();
    expect(runs).toBe(1);
    expect(await driver.isKnown(QUEUES.compile, 'job-1')).toBe(false);

    await driver.enqueue(QUEUES.compile, job(1));
    await driver.onIdle();
    expect(runs).toBe(2);
  });

  it('never runs more handlers at once than the concurrency', async () => {
    let running = 0;
    let peak = 0;
    driver.process(QUEUES.compile, 2, async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    });
    await Promise.all([1, 2, 3, 4, 5, 6].map((n) => driver.enqueue(QUEUES.compile, job(n))));
    await driver.onIdle();
    expect(peak).toBe(2);
  });

  it('keeps queues apart: a job is known only on its own queue', async () => {
    await driver.enqueue(QUEUES.train, job(1));
    expect(await driver.isKnown(QUEUES.train, 'job-1')).toBe(true);
    expect(await driver.isKnown(QUEUES.compile, 'job-1')).toBe(false);
  });

  it('goes on with the next job after a handler throws', async () => {
    const seen: string[] = [];
    driver.process(QUEUES.compile, 1, async (p) => {
      seen.push(p.jobId);
      if (p.jobId === 'job-1') throw new Error('boom');
    });
    await driver.enqueue(QUEUES.compile, job(1));
    await driver.enqueue(QUEUES.compile, job(2));
    await driver.onIdle();
    expect(seen).toEqual(['job-1', 'job-2']);
  });

  it('close() waits for running handlers, starts no new ones and refuses new jobs', async () => {
    const hold = gate();
    const seen: string[] = [];
    let finished = false;
    driver.process(QUEUES.compile, 1, async (p) => {
      seen.push(p.jobId);
      await hold.promise;
      finished = true;
    });
    await driver.enqueue(QUEUES.compile, job(1));
    await driver.enqueue(QUEUES.compile, job(2));
    await new Promise((r) => setImmediate(r));
    const closing = driver.close();
    setTimeout(hold.open, 20);
    await closing;
    expect(finished).toBe(true);
    expect(seen).toEqual(['job-1']);
    expect(await driver.health()).toBe('unhealthy');
    await expect(driver.enqueue(QUEUES.compile, job(3))).rejects.toBeInstanceOf(QueueUnavailableError);
  });

  it('holds a delayed entry back until its delay is over, and tells entries of one job apart by queue id', async () => {
    const seen: string[] = [];
    driver.process(QUEUES.webhook, 1, async (p) => {
      seen.push(p.jobId);
    });
    const started = Date.now();
    await driver.enqueue(QUEUES.webhook, job(1), { queueId: 'job-1:2', delayMs: 150 });
    await driver.enqueue(QUEUES.webhook, job(1), { queueId: 'job-1:2', delayMs: 150 });
    expect(await driver.isKnown(QUEUES.webhook, 'job-1:2')).toBe(true);
    expect(await driver.isKnown(QUEUES.webhook, 'job-1')).toBe(false);
    await driver.enqueue(QUEUES.webhook, job(2));
    await driver.onIdle();
    expect(seen).toEqual(['job-2']);
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 10));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(seen).toEqual(['job-2', 'job-1']);
  });

  it('refuses a second handler for the same queue', () => {
    driver.process(QUEUES.compile, 1, async () => undefined);
    expect(() => driver.process(QUEUES.compile, 1, async () => undefined)).toThrow(/already has a handler/);
  });
});
