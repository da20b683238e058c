import { type AppConfig, InjectAppConfig } from '@app/config';
import { QueueDriver, WORKER_HEARTBEAT_INTERVAL_MS, WorkerHeartbeat, type WorkerInfo } from '@app/queue';
import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { version } from '../../../../package.json';
import { GATEWAY_REDIS } from '../common/gateway-redis.module';
import { detectTrainingBackend, type TrainingBackend } from './training-backend';

export type ServiceState = 'healthy' | 'unhealthy' | 'disabled';

export interface HealthServices {
  api: ServiceState;
  database: ServiceState;
  redis: ServiceState;
  queue: ServiceState;
  worker: ServiceState;
}

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  version: string;
  timestamp: string;
  mode: AppConfig['mode'];
  training_backend: TrainingBackend;
  /** The PyTorch version a live worker can train with, or null. */
  pytorch: string | null;
  services: HealthServices;
}

export interface ReadinessReport {
  status: 'ready' | 'not_ready';
  services: Pick<HealthServices, 'database' | 'queue'>;
}

/** A probe that takes longer than this counts as down: a health check must answer while a dependency hangs. */
const PROBE_TIMEOUT_MS = 2000;

/** Real probes of the gateway's dependencies. The worker is reported but not required: the API stays up without one. */
@Injectable()
export class HealthService {
  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly queue: QueueDriver,
    private readonly heartbeat: WorkerHeartbeat,
    @Inject(GATEWAY_REDIS) private readonly redis: Redis | null,
  ) {}

  async check(): Promise<HealthReport> {
    const [database, redis, queue, worker, workers] = await Promise.all([this.database(), this.redisState(), this.queueState(), this.worker(), this.workers()]);
    const services: HealthServices = { api: 'healthy', database, redis, queue, worker };
    const required = [database, redis, queue];
    return {
      status: required.includes('unhealthy') ? 'unhealthy' : 'healthy',
      version,
      timestamp: new Date().toISOString(),
      mode: this.config.mode,
      training_backend: activeBackend(workers) ?? detectTrainingBackend(),
      pytorch: workers.find((w) => w.pytorch)?.pytorch ?? null,
      services,
    };
  }

  async readiness(): Promise<ReadinessReport> {
    const [database, queue] = await Promise.all([this.database(), this.queueState()]);
    return { status: database === 'healthy' && queue === 'healthy' ? 'ready' : 'not_ready', services: { database, queue } };
  }

  private database(): Promise<ServiceState> {
    return probe(async () => {
      await this.dataSource.query('SELECT 1');
    });
  }

  private redisState(): Promise<ServiceState> {
    const redis = this.redis;
    if (!redis) return Promise.resolve('disabled');
    return probe(async () => {
      if ((await redis.ping()) !== 'PONG') throw new Error('unexpected PING answer');
    });
  }

  private queueState(): Promise<ServiceState> {
    return probe(async () => {
      if ((await this.queue.health()) !== 'healthy') throw new Error('queue unhealthy');
    });
  }

  /** What the live workers report; nothing when the heartbeat store does not answer in time. */
  private async workers(): Promise<WorkerInfo[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<WorkerInfo[]>((resolve) => {
      timer = setTimeout(() => resolve([]), PROBE_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.heartbeat.workers().catch(() => []), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private worker(): Promise<ServiceState> {
    return probe(async () => {
      const last = await this.heartbeat.lastBeat();
      if (!last || Date.now() - last.getTime() > 3 * WORKER_HEARTBEAT_INTERVAL_MS) throw new Error('no recent heartbeat');
    });
  }
}

/** The best backend a live worker's training processes run on (they report it once one has started). */
function activeBackend(workers: WorkerInfo[]): TrainingBackend | null {
  const order: TrainingBackend[] = ['tensorflow', 'wasm', 'cpu'];
  return order.find((b) => workers.some((w) => w.trainingBackend === b)) ?? null;
}

async function probe(check: () => Promise<void>): Promise<ServiceState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('probe timed out')), PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'healthy';
  } catch {
    return 'unhealthy';
  } finally {
    clearTimeout(timer);
  }
}
