import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Job outcomes the duration histogram distinguishes. */
export type JobOutcome = 'completed' | 'failed' | 'cancelled';

/**
 * The Prometheus registry of one application and the metrics of the work it runs: job durations, webhook attempts,
 * training throughput. One per app (never prom-client's global registry: tests run several apps in one process). The
 * gateway adds its HTTP, queue-depth and predict metrics to the same registry and serves it at `/metrics`; a
 * distributed worker serves it on `WORKER_METRICS_PORT`.
 */
export class QueueMetrics {
  readonly registry = new Registry();

  readonly jobDuration = new Histogram({
    name: 'neural_job_duration_seconds',
    help: 'Time from a job starting to run to its end, by job type and outcome.',
    labelNames: ['type', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'neural_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, retry (failed, another attempt scheduled) or failed (given up).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly trainingSamples = new Counter({
    name: 'neural_training_samples_total',
    help: 'Training samples processed by finished epochs; rate() over it is the samples/s of this process.',
    registers: [this.registry],
  });

  readonly trainingSamplesPerSecond = new Gauge({
    name: 'neural_training_samples_per_second',
    help: 'Throughput of the latest epoch finished in this process.',
    registers: [this.registry],
  });

  /** Records one finished epoch of `samplesPerSecond` over `seconds`. */
  observeEpoch(samplesPerSecond: number, seconds: number): void {
    if (!Number.isFinite(samplesPerSecond) || !Number.isFinite(seconds) || samplesPerSecond < 0 || seconds < 0) return;
    this.trainingSamples.inc(Math.round(samplesPerSecond * seconds));
    this.trainingSamplesPerSecond.set(samplesPerSecond);
  }
}
