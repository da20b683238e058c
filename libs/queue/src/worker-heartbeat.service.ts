import type { Redis } from 'ioredis';
import { withRedisTimeout } from './with-timeout';

/** How often a worker beats; a beat older than 3 intervals means no worker is alive. */
export const WORKER_HEARTBEAT_INTERVAL_MS = 5000;
/** Redis forgets the beat by itself once every worker is gone for this long. */
export const WORKER_HEARTBEAT_TTL_SECONDS = 60;

/** Liveness of the job consumers: workers call `beat()` every few seconds, the gateway's health probe reads it. */
export abstract class WorkerHeartbeat {
  abstract beat(at?: Date): Promise<void>;
  /** When any worker last beat, or null when none has (recently enough for the store to remember). */
  abstract lastBeat(): Promise<Date | null>;
}

/**
 * Distributed mode: one key with a TTL, shared by every worker and gateway on the Redis. Calls give up after
 * `timeoutMs` with QueueUnavailableError, so a health probe never hangs on a dead Redis.
 */
export class RedisWorkerHeartbeat extends WorkerHeartbeat {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly timeoutMs = 2000,
  ) {
    super();
  }

  override async beat(at = new Date()): Promise<void> {
    await withRedisTimeout('record the worker heartbeat', this.timeoutMs, () => this.redis.set(this.key, String(at.getTime()), 'EX', WORKER_HEARTBEAT_TTL_SECONDS));
  }

  override async lastBeat(): Promise<Date | null> {
    const raw = await withRedisTimeout('read the worker heartbeat', this.timeoutMs, () => this.redis.get(this.key));
    const ms = raw === null ? NaN : Number(raw);
    return Number.isFinite(ms) ? new Date(ms) : null;
  }
}

/** Embedded mode: gateway and worker share the process. */
export class MemoryWorkerHeartbeat extends WorkerHeartbeat {
  private last: Date | null = null;

  override async beat(at = new Date()): Promise<void> {
    this.last = at;
  }

  override async lastBeat(): Promise<Date | null> {
    return this.last;
  }
}
