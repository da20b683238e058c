import { type AppConfig, InjectAppConfig } from '@app/config';
import { DeploymentsRepository, type DeploymentEntity } from '@app/persistence';
import {
  decodeInstances,
  decodeRawInstances,
  formatPredictions,
  InstancesError,
  ReplicaCrashedError,
  ServingClosedError,
  ServingOverloadedError,
  ServingPool,
  ServingTimeoutError,
} from '@app/serving';
import { ArtifactNotFoundError, ArtifactStore, DEPLOYMENT_STORE } from '@app/storage';
import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { performance } from 'perf_hooks';
import { DomainError } from '../common/domain-error';
import { GatewayMetrics } from '../metrics/gateway-metrics.service';
import { DeploymentStats } from './deployment-stats';
import type { PredictResponseDto } from './dto/deployment.dto';
import type { PredictInput } from './predict-body.decorator';

interface Loaded {
  tenantId: string;
  modelKey: string;
  /** Set once the pool is warm; `starting` meanwhile. */
  pool: ServingPool | null;
  starting: Promise<ServingPool> | null;
  lastUsed: number;
}

interface CachedRow {
  row: DeploymentEntity;
  at: number;
}

/**
 * The deployments this gateway serves: one ServingPool (ONNX Runtime sessions in worker threads) per deployment,
 * loaded from the deployment store on first use or as soon as the deployment is up, kept warm, resized to the desired
 * replicas and dropped when the deployment is deleted or paused. Every gateway does this on its own; they agree
 * through the database, which each re-reads every SERVING_SYNC_INTERVAL_MS.
 */
@Injectable()
export class ServingService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ServingService.name);
  private readonly loaded = new Map<string, Loaded>();
  private readonly rows = new Map<string, CachedRow>();
  private readonly applying = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private syncing: Promise<void> | null = null;
  private closed = false;

  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly deployments: DeploymentsRepository,
    @Inject(DEPLOYMENT_STORE) private readonly store: ArtifactStore,
    readonly stats: DeploymentStats,
    @Optional() private readonly metrics?: GatewayMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sync(), this.config.serving.syncIntervalMs);
    this.timer.unref();
    void this.sync();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.syncing;
    await this.stats.flush();
    await Promise.all([...this.loaded.keys()].map((id) => this.unload(id)));
  }

  /** Serving workers of the deployment alive with a warm session here. */
  readyReplicas(deploymentId: string): number {
    return this.loaded.get(deploymentId)?.pool?.readyReplicas ?? 0;
  }

  /** `started` (performance.now() when the request arrived) starts `latency_ms`, so it includes parsing and auth. */
  async predict(tenantId: string, deploymentId: string, input: PredictInput, started = performance.now()): Promise<PredictResponseDto> {
    const row = await this.row(tenantId, deploymentId);
    let ok = false;
    try {
      this.assertServing(row);
      const max = this.config.serving.maxBatch;
      const { data, batch } = Buffer.isBuffer(input) ? decodeRawInstances(input, row.inputShape!, max) : decodeInstances(input.instances, row.inputShape!, max);
      const pool = await this.pool(row);
      const { output, dims } = await pool.predict(data, batch);
      const formatted = formatPredictions(output, dims, row.outputKind ?? 'raw');
      ok = true;
      const latency = performance.now() - started;
      return { ...formatted, model_id: row.modelId, latency_ms: Math.round(latency * 1000) / 1000 };
    } catch (err) {
      throw this.problem(row, err);
    } finally {
      const latency = ok ? performance.now() - started : null;
      this.stats.record(deploymentId, latency, ok);
      if (latency !== null) this.metrics?.observePredict(deploymentId, latency / 1000);
    }
  }

  /**
   * Brings this gateway's serving in line with the row: resized, loaded (when it should serve and there is room), or
   * unloaded. `null` means the deployment is gone. Changes to one deployment apply one at a time, and a row older than
   * the one already applied (a sync that read just before a scale) is ignored.
   */
  apply(deploymentId: string, row: DeploymentEntity | null): Promise<void> {
    const previous = this.applying.get(deploymentId) ?? Promise.resolve();
    const next = previous.then(() => this.applyNow(deploymentId, row));
    const settled = next.catch(() => undefined);
    this.applying.set(deploymentId, settled);
    void settled.then(() => this.applying.get(deploymentId) === settled && this.applying.delete(deploymentId));
    return next;
  }

  private async applyNow(deploymentId: string, row: DeploymentEntity | null): Promise<void> {
    if (!row) {
      this.rows.delete(deploymentId);
      await this.unload(deploymentId);
      return;
    }
    const cached = this.rows.get(deploymentId);
    if (cached && new Date(cached.row.updatedAt).getTime() > new Date(row.updatedAt).getTime()) return;
    this.rows.set(deploymentId, { row, at: Date.now() });
    if (row.status !== 'deployed' || row.replicas < 1 || !row.modelKey) {
      await this.unload(deploymentId);
      return;
    }
    const current = this.loaded.get(deploymentId);
    if (current) {
      const pool = current.pool ?? (await current.starting?.catch(() => null));
      if (pool && this.loaded.get(deploymentId) === current && pool.replicas !== row.replicas) await pool.resize(row.replicas);
      return;
    }
    await this.pool(row).catch((err: unknown) => this.logger.warn(`could not load deployment ${deploymentId}: ${String(err)}`));
  }

  /** Forgets the deployment here at once (its rows elsewhere catch up within a sync interval). */
  async forget(deploymentId: string): Promise<void> {
    await this.apply(deploymentId, null);
    await this.stats.forget(deploymentId);
    this.metrics?.forgetDeployment(deploymentId);
  }

  /** The row as of at most one sync interval ago; 404 for a deployment of another tenant or none at all. */
  private async row(tenantId: string, deploymentId: string): Promise<DeploymentEntity> {
    const cached = this.rows.get(deploymentId);
    if (cached && cached.row.tenantId === tenantId && Date.now() - cached.at < this.config.serving.syncIntervalMs) return cached.row;
    const row = await this.deployments.findForTenant(tenantId, deploymentId);
    if (!row) throw DomainError.notFound('deployment', deploymentId);
    this.rows.set(deploymentId, { row, at: Date.now() });
    return row;
  }

  private assertServing(row: DeploymentEntity): void {
    switch (row.status) {
      case 'deploying':
        throw DomainError.unavailable(`Deployment ${row.id} is still deploying; follow its job at GET /jobs/${row.jobId}.`, 1);
      case 'failed':
        throw DomainError.conflict(`Deployment ${row.id} failed and serves nothing: ${row.error?.detail ?? 'no reason recorded'}. Delete it and deploy again.`);
      case 'paused':
        throw DomainError.unavailable(`Deployment ${row.id} is scaled to 0 replicas and serves nothing; scale it up with POST /deployments/${row.id}/scale {"replicas": 1}.`);
    }
  }

  /** The deployment's warm pool, loading it (once, however many requests ask at the same time) when needed. */
  private async pool(row: DeploymentEntity): Promise<ServingPool> {
    const current = this.loaded.get(row.id);
    if (current && current.modelKey === row.modelKey) {
      current.lastUsed = Date.now();
      return current.pool ?? current.starting!;
    }
    if (current) await this.unload(row.id);
    if (this.closed) throw new ServingClosedError('the gateway is shutting down');
    await this.makeRoom();
    const raced = this.loaded.get(row.id);
    if (raced) return raced.pool ?? raced.starting!;
    const entry: Loaded = { tenantId: row.tenantId, modelKey: row.modelKey!, pool: null, starting: null, lastUsed: Date.now() };
    entry.starting = this.start(row).then(
      (pool) => {
        if (this.loaded.get(row.id) !== entry) {
          void pool.close();
          throw new ServingClosedError(`deployment ${row.id} was unloaded while it loaded`);
        }
        entry.pool = pool;
        entry.starting = null;
        return pool;
      },
      (err: unknown) => {
        if (this.loaded.get(row.id) === entry) this.loaded.delete(row.id);
        throw err;
      },
    );
    this.loaded.set(row.id, entry);
    return entry.starting;
  }

  private async start(row: DeploymentEntity): Promise<ServingPool> {
    const model = await this.store.get(row.modelKey!);
    const s = this.config.serving;
    return ServingPool.start({ model, replicas: row.replicas, intraOpThreads: s.threadsPerReplica, maxQueuePerReplica: s.queuePerReplica, timeoutMs: s.timeoutMs });
  }

  /** At SERVING_MAX_MODELS, the least recently used deployment is unloaded (it loads again on its next request). */
  private async makeRoom(): Promise<void> {
    while (this.loaded.size >= this.config.serving.maxModels) {
      const [lru] = [...this.loaded.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed);
      this.logger.log(`unloading deployment ${lru[0]}: SERVING_MAX_MODELS (${this.config.serving.maxModels}) reached`);
      await this.unload(lru[0]);
    }
  }

  private async unload(deploymentId: string): Promise<void> {
    const entry = this.loaded.get(deploymentId);
    if (!entry) return;
    this.loaded.delete(deploymentId);
    const pool = entry.pool ?? (await entry.starting?.catch(() => null));
    await pool?.close();
  }

  /** Re-reads the rows of what this gateway serves or caches, and loads deployments that came up elsewhere. */
  private sync(): Promise<void> {
    if (this.syncing || this.closed) return this.syncing ?? Promise.resolve();
    this.syncing = (async () => {
      try {
        const known = [...new Set([...this.loaded.keys(), ...this.rows.keys()])];
        const rows = new Map((await this.deployments.findByIds(known)).map((r) => [r.id, r]));
        for (const id of known) await this.apply(id, rows.get(id) ?? null);
        for (const row of await this.deployments.findServing(this.config.serving.maxModels)) {
          if (!this.loaded.has(row.id) && this.loaded.size < this.config.serving.maxModels) await this.apply(row.id, row);
        }
        await this.stats.flush();
      } catch (err) {
        this.logger.warn(`serving sync failed: ${String(err)}`);
      }
    })().finally(() => (this.syncing = null));
    return this.syncing;
  }

  private problem(row: DeploymentEntity, err: unknown): unknown {
    if (err instanceof InstancesError) return DomainError.validation(err.errors, err.message);
    if (err instanceof ServingOverloadedError) return DomainError.unavailable(`Deployment ${row.id} is at capacity (${err.message}); retry shortly or scale it up.`, 1);
    if (err instanceof ServingTimeoutError) return DomainError.unavailable(`Deployment ${row.id} did not answer within ${this.config.serving.timeoutMs} ms (PREDICT_TIMEOUT_MS).`, 1);
    if (err instanceof ReplicaCrashedError || err instanceof ServingClosedError) return DomainError.unavailable(`Deployment ${row.id} was restarting a serving worker; retry the request.`, 1);
    if (err instanceof ArtifactNotFoundError) {
      this.logger.error(`the served file ${row.modelKey} of deployment ${row.id} is not in this gateway's deployment store: gateways must share DEPLOYMENTS_PATH`);
      return DomainError.unavailable(`Deployment ${row.id} cannot be loaded on this gateway: its model file is missing from the deployment store.`);
    }
    return err;
  }
}
