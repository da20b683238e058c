import { QUEUES, type QueueName } from '@app/contracts';
import { QueueDriver, QueueMetrics } from '@app/queue';
import { Injectable, Logger } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';

const QUEUE_NAMES = Object.values(QUEUES) as QueueName[];
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/**
 * The gateway's metrics, on the application's registry (QueueMetrics's, which also holds the job metrics when this
 * process runs the jobs): HTTP requests, queue depth (read from the queue driver at scrape time), predict latency per
 * deployment and the process metrics.
 */
@Injectable()
export class GatewayMetrics {
  private readonly logger = new Logger(GatewayMetrics.name);
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly predictDuration: Histogram<'deployment'>;

  constructor(queueMetrics: QueueMetrics, driver: QueueDriver) {
    const registers = [(this.registry = queueMetrics.registry)];
    collectDefaultMetrics({ register: this.registry, prefix: 'neural_' });
    this.httpRequests = new Counter({ name: 'neural_http_requests_total', help: 'HTTP requests by method, route template and status.', labelNames: ['method', 'route', 'status'], registers });
    this.httpDuration = new Histogram({
      name: 'neural_http_request_duration_seconds',
      help: 'HTTP request latency by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.predictDuration = new Histogram({
      name: 'neural_predict_duration_seconds',
      help: 'Latency of successful predict calls served by this gateway, per deployment.',
      labelNames: ['deployment'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const logger = this.logger;
    new Gauge({
      name: 'neural_queue_depth',
      help: 'Entries in each queue by state (failed is always 0 in embedded mode: the inline queue keeps no failures).',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        await Promise.all(
          QUEUE_NAMES.map(async (queue) => {
            try {
              const counts = await driver.counts(queue);
              for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state]);
            } catch (err) {
              // A scrape during a Redis outage still answers, without the depth of that queue.
              logger.warn(`could not count queue ${queue}: ${err instanceof Error ? err.message : String(err)}`);
            }
          }),
        );
      },
    });
  }

  /** One request finished; `route` is the route template (never the raw URL). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  observePredict(deploymentId: string, seconds: number): void {
    this.predictDuration.observe({ deployment: deploymentId }, seconds);
  }

  /** Drops a deleted deployment's series, so the label set stays bounded by the live deployments. */
  forgetDeployment(deploymentId: string): void {
    this.predictDuration.remove({ deployment: deploymentId });
  }
}
