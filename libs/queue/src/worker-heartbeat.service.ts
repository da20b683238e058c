import type { Redis } from 'ioredis';
import { withRedisTimeout } from './with-timeout';

/** How often a worker beats; a beat older than 3 intervals means no worker is alive. */
export const WORKER_HEARTBEAT_INTERVAL_MS = 5000;
/** Redis forgets the beat by itself once every worker is gone for this long. */
export const WORKER_HEARTBEAT_TTL_SECONDS = 60;

/** What a worker can do, announced with its heartbeat. */
export interface WorkerInfo {
  workerId: string;
  /** The tfjs backend its training processes run on, once one has started. */
  trainingBackend: 'tensorflow' | 'wasm' | 'cpu' | null;
  /** The PyTorch version its Python has, or null when it cannot train with PyTorch. */
  pytorch: string | null;
  /** When this was reported (ms since the epoch). */
  at: number;
}

/** Liveness of the job consumers: workers call `beat()` every few seconds, the gateway's health probe reads it. */
export abstract class WorkerHeartbeat {
  abstract beat(at?: Date, info?: Omit<WorkerInfo, 'at'>): Promise<void>;
  /** When any worker last beat, or null when none has (recently enough for the store to remember). */
  abstract lastBeat(): Promise<Date | null>;
  /** The workers that beat within the last three intervals, with what they can do. */
  abstract workers(now?: Date): Promise<WorkerInfo[]>;
}

const fresh = (info: WorkerInfo, now: Date) => now.getTime() - info.at <= 3 * WORKER_HEARTBEAT_INTERVAL_MS;

/**
 * Distributed mode: one key with a TTL, shared by every worker and gateway on the Redis. Calls give up after
 * `timeoutMs` with QueueUnavailableError, so a health probe never hangs on a dead Redis.
 */
export class RedisWorkerHeartbeat extends WorkerHeartbeat {
  private readonly infoKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly timeoutMs = 2000,
  ) {
    super();
    this.infoKey = `${key}:info`;
  }

  override async beat(at = new Date(), info?: Omit<WorkerInfo, 'at'>): Promise<void> {
    await withRedisTimeout('record the worker heartbeat', this.timeoutMs, async () => {
      const multi = this.redis.multi().set(this.key, String(at.getTime()), 'EX', WORKER_HEARTBEAT_TTL_SECONDS);
      if (info) multi.hset(this.infoKey, info.workerId, JSON.stringify({ ...info, at: at.getTime() })).expire(this.infoKey, WORKER_HEARTBEAT_TTL_SECONDS);
      await multi.exec();
    }, this.redis);
  }

  override async workers(now = new Date()): Promise<WorkerInfo[]> {
    const all = await withRedisTimeout('read the workers', this.timeoutMs, () => this.redis.hgetall(this.infoKey), this.redis);
    const infos: WorkerInfo[] = [];
    const gone: string[] = [];
    for (const [id, raw] of Object.entries(all)) {
      try {
        const info = JSON.parse(raw) as WorkerInfo;
        if (fresh(info, now)) infos.push(info);
        else gone.push(id);
      } catch {
        gone.push(id);
      }
    }
    // Workers that stopped beating leave their entry behind; whoever reads first clears it.
    if (gone.length) await this.redis.hdel(this.infoKey, ...gone).catch(() => undefined);
    return infos;
  }

  override async lastBeat(): Promise<Date | null> {
    const raw = await withRedisTimeout('read the worker heartbeat', this.timeoutMs, () => this.redis.get(this.key), this.redis);
    const ms = raw === null ? NaN : Number(raw);
    return Number.isFinite(ms) ? new Date(ms) : null;
  }
}

/** Embedded mode: gateway and worker share the process. */
export class MemoryWorkerHeartbeat extends WorkerHeartbeat {
  private last: Date | null = null;
  private readonly infos = new Map<string, WorkerInfo>();

  override async beat(at = new Date(), info?: Omit<WorkerInfo, 'at'>): Promise<void> {
    this.last = at;
    if (info) this.infos.set(info.workerId, { ...info, at: at.getTime() });
  }

  override async workers(now = new Date()): Promise<WorkerInfo[]> {
    return [...this.infos.values()].filter((i) => fresh(i, now));
  }

  override async lastBeat(): Promise<Date | null> {
    return this.last;
  }
}
