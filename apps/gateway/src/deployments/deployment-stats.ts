import { LatencyHistogram } from '@app/serving';
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';

export interface DeploymentStatsView {
  request_count: number;
  error_count: number;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
}

interface Tally {
  requests: number;
  errors: number;
  latency: LatencyHistogram;
}

const tally = (): Tally => ({ requests: 0, errors: 0, latency: new LatencyHistogram() });

/**
 * Predict counts and latencies per deployment since it was created. Each gateway tallies locally (recording costs no
 * I/O) and, with Redis, adds its tally to shared hashes on every flush, so the figures cover every gateway. Without
 * Redis (embedded mode: one process) the local tally is the whole truth.
 */
export class DeploymentStats {
  private readonly logger = new Logger(DeploymentStats.name);
  /** Not yet flushed (Redis) or everything (no Redis). */
  private readonly local = new Map<string, Tally>();

  constructor(private readonly redis: Redis | null) {}

  record(deploymentId: string, latencyMs: number | null, ok: boolean): void {
    let t = this.local.get(deploymentId);
    if (!t) this.local.set(deploymentId, (t = tally()));
    t.requests++;
    if (!ok) t.errors++;
    if (latencyMs !== null) t.latency.record(latencyMs);
  }

  async get(deploymentId: string): Promise<DeploymentStatsView> {
    if (!this.redis) return view(this.local.get(deploymentId) ?? tally());
    await this.flush();
    try {
      const [counts, buckets] = await Promise.all([this.redis.hgetall(countsKey(deploymentId)), this.redis.hgetall(latencyKey(deploymentId))]);
      const bucketCounts = Object.fromEntries(Object.entries(buckets).map(([k, v]) => [k, Number(v)]));
      return view({ requests: Number(counts.requests ?? 0), errors: Number(counts.errors ?? 0), latency: LatencyHistogram.fromCounts(bucketCounts) });
    } catch (err) {
      this.logger.warn(`could not read the stats of deployment ${deploymentId}: ${String(err)}`);
      return view(this.local.get(deploymentId) ?? tally());
    }
  }

  /** Adds the local tallies to the shared ones; a tally that could not be written is kept for the next flush. */
  async flush(): Promise<void> {
    if (!this.redis || this.local.size === 0) return;
    const batch = [...this.local.entries()];
    this.local.clear();
    const pipeline = this.redis.pipeline();
    for (const [id, t] of batch) {
      pipeline.hincrby(countsKey(id), 'requests', t.requests);
      if (t.errors) pipeline.hincrby(countsKey(id), 'errors', t.errors);
      for (const [bucket, n] of Object.entries(t.latency.toCounts())) pipeline.hincrby(latencyKey(id), bucket, n);
    }
    try {
      // Commands of a pipeline that reached Redis are not retried: re-adding them could count twice.
      const failed = (await pipeline.exec())?.find(([err]) => err);
      if (failed) this.logger.warn(`some deployment stats were not recorded: ${String(failed[0])}`);
    } catch (err) {
      for (const [id, t] of batch) {
        const now = this.local.get(id);
        if (now) {
          now.requests += t.requests;
          now.errors += t.errors;
          now.latency.merge(t.latency);
        } else this.local.set(id, t);
      }
      this.logger.warn(`could not flush deployment stats: ${String(err)}`);
    }
  }

  async forget(deploymentId: string): Promise<void> {
    this.local.delete(deploymentId);
    await this.redis?.del(countsKey(deploymentId), latencyKey(deploymentId)).catch(() => undefined);
  }
}

const countsKey = (id: string) => `${id}:counts`;
const latencyKey = (id: string) => `${id}:latency`;

function view(t: Tally): DeploymentStatsView {
  return { request_count: t.requests, error_count: t.errors, latency_p50_ms: round(t.latency.quantile(0.5)), latency_p99_ms: round(t.latency.quantile(0.99)) };
}

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 1000) / 1000;
}
