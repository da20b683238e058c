import { QUEUES } from '@app/contracts';
import { InlineQueueDriver, QueueMetrics, type QueueDriver } from '@app/queue';
import { GatewayMetrics } from './gateway-metrics.service';
import { httpMetricsMiddleware, UNMATCHED_ROUTE } from './http-metrics.middleware';
import { EventEmitter } from 'events';
import type { Request, Response } from 'express';

const values = async (metrics: GatewayMetrics, name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values;

describe('GatewayMetrics', () => {
  it('labels predict latency by deployment and drops a forgotten deployment', async () => {
    const metrics = new GatewayMetrics(new QueueMetrics(), new InlineQueueDriver());
    metrics.observePredict('dep-a', 0.004);
    metrics.observePredict('dep-b', 0.02);
    const counts = async () => (await values(metrics, 'neural_predict_duration_seconds')).filter((v) => (v as { metricName?: string }).metricName === 'neural_predict_duration_seconds_count');
    expect((await counts()).map((v) => v.labels.deployment).sort()).toEqual(['dep-a', 'dep-b']);
    metrics.forgetDeployment('dep-a');
    expect((await counts()).map((v) => v.labels.deployment)).toEqual(['dep-b']);
  });

  it('reads queue depth at scrape time and still answers when a queue cannot be counted', async () => {
    const driver = new InlineQueueDriver();
    await driver.enqueue(QUEUES.train, { jobId: 'j', tenantId: 't' });
    const failing = Object.assign(Object.create(driver) as QueueDriver, {
      counts: (queue: string) => (queue === QUEUES.webhook ? Promise.reject(new Error('redis down')) : driver.counts(queue as never)),
    });
    const metrics = new GatewayMetrics(new QueueMetrics(), failing);
    (metrics as unknown as { logger: { warn: () => void } }).logger.warn = () => undefined;
    const depth = await values(metrics, 'neural_queue_depth');
    expect(depth.find((v) => v.labels.queue === 'train' && v.labels.state === 'waiting')?.value).toBe(1);
    expect(depth.filter((v) => v.labels.queue === 'webhook')).toEqual([]);
    expect(depth.filter((v) => v.labels.queue === 'compile')).toHaveLength(4);
    await driver.close();
  });
});

describe('httpMetricsMiddleware', () => {
  const run = async (req: Partial<Request>, status: number) => {
    const metrics = new GatewayMetrics(new QueueMetrics(), new InlineQueueDriver());
    const res = Object.assign(new EventEmitter(), { statusCode: status }) as unknown as Response;
    const request = { method: 'GET', baseUrl: '', ...req } as Request;
    httpMetricsMiddleware(metrics)(request, res, () => undefined);
    // Express sets req.route while routing, after this middleware ran.
    Object.assign(request, req);
    (res as unknown as EventEmitter).emit('finish');
    return (await values(metrics, 'neural_http_requests_total')).map((v) => v.labels);
  };

  it('labels a request with its route template', async () => {
    expect(await run({ route: { path: '/jobs/:job_id' } } as never, 200)).toEqual([{ method: 'GET', route: '/jobs/:job_id', status: '200' }]);
  });

  it('labels every unmatched URL alike', async () => {
    expect(await run({ url: '/random/123' }, 404)).toEqual([{ method: 'GET', route: UNMATCHED_ROUTE, status: '404' }]);
  });
});
