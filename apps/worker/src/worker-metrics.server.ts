import { APP_CONFIG, type AppConfig } from '@app/config';
import { QueueMetrics } from '@app/queue';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { collectDefaultMetrics } from 'prom-client';
import { createServer, type Server } from 'http';
import type { AddressInfo } from 'net';

/**
 * `GET /metrics` of a distributed worker on WORKER_METRICS_PORT (off when unset): the job durations, webhook outcomes
 * and training throughput of the jobs this worker ran, and its process metrics. No authentication: the port is meant
 * for the private network Prometheus scrapes, never for the public one.
 */
@Injectable()
export class WorkerMetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WorkerMetricsServer.name);
  private server?: Server;

  constructor(
    private readonly metrics: QueueMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The port it listens on (the real one when WORKER_METRICS_PORT asked for an ephemeral one), if any. */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const port = this.config.queue.metricsPort;
    if (port === null) return;
    const { registry } = this.metrics;
    collectDefaultMetrics({ register: registry, prefix: 'neural_' });
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' }).end(text),
        (err: unknown) => {
          this.logger.warn(`metrics scrape failed: ${err instanceof Error ? err.message : String(err)}`);
          res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics unavailable\n');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, this.config.http.host, () => resolve());
    });
    this.logger.log(`metrics on http://${this.config.http.host}:${this.port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
