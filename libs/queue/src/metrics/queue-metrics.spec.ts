import { QUEUES } from '@app/contracts';
import { InlineQueueDriver } from '../inline-queue.driver';
import { QueueMetrics } from './queue-metrics';

describe('QueueMetrics', () => {
  it('keeps its metrics in its own registry, not the global one', async () => {
    const a = new QueueMetrics();
    const b = new QueueMetrics();
    a.jobDuration.observe({ type: 'compile', outcome: 'completed' }, 0.2);
    expect((await a.registry.getSingleMetric('neural_job_duration_seconds')!.get()).values.find((v) => (v as { metricName?: string }).metricName === 'neural_job_duration_seconds_count')?.value).toBe(1);
    expect((await b.registry.getSingleMetric('neural_job_duration_seconds')!.get()).values.find((v) => (v as { metricName?: string }).metricName === 'neural_job_duration_seconds_count')).toBeUndefined();
  });

  it('counts the samples of finished epochs and keeps the latest throughput', async () => {
    const m = new QueueMetrics();
    m.observeEpoch(1000, 2.5);
    m.observeEpoch(2000, 0.5);
    m.observeEpoch(Number.NaN, 1);
    expect((await m.trainingSamples.get()).values[0].value).toBe(3500);
    expect((await m.trainingSamplesPerSecond.get()).values[0].value).toBe(2000);
  });
});

describe('InlineQueueDriver.counts', () => {
  it('reports waiting, running and delayed entries of a queue', async () => {
    const driver = new InlineQueueDriver();
    expect(await driver.counts(QUEUES.compile)).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    await driver.enqueue(QUEUES.compile, { jobId: 'a', tenantId: 't' });
    await driver.enqueue(QUEUES.compile, { jobId: 'b', tenantId: 't' });
    await driver.enqueue(QUEUES.compile, { jobId: 'c', tenantId: 't' }, { delayMs: 60_000 });
    expect(await driver.counts(QUEUES.compile)).toEqual({ waiting: 2, active: 0, delayed: 1, failed: 0 });
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    driver.process(QUEUES.compile, 1, () => blocked);
    await new Promise((r) => setImmediate(r));
    expect(await driver.counts(QUEUES.compile)).toEqual({ waiting: 1, active: 1, delayed: 1, failed: 0 });
    release();
    await driver.onIdle();
    expect(await driver.counts(QUEUES.compile)).toEqual({ waiting: 0, active: 0, delayed: 1, failed: 0 });
    await driver.close();
  });
});
