import type { OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

type StorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

interface Bucket {
  hits: number;
  /** End of the current window (ms). */
  expiresAt: number;
  /** Refused until then (ms); 0 when not blocked. */
  blockedUntil: number;
}

export interface BoundedThrottlerStorageOptions {
  /** Buckets kept at most; past it the least recently used is dropped (its client starts afresh). */
  maxBuckets: number;
  /** How often expired buckets are swept out. Default 60 s. */
  sweepIntervalMs?: number;
}

/**
 * In-process counters for the throttler (embedded mode), with the Redis storage's semantics: a fixed window per key
 * that starts at its first hit, and a block of `blockDuration` once the limit is passed. Unlike the library's
 * in-memory storage, which keeps every key (and one timestamp per hit) until its sweep, memory is bounded whatever
 * the number of distinct keys: at most `maxBuckets` of constant size, least recently used dropped first, expired ones
 * swept by one unref'd interval.
 */
export class BoundedThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  /** Map order is recency: a touched bucket is re-inserted at the end, so the first is the least recently used. */
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxBuckets: number;
  private readonly sweepIntervalMs: number;
  private sweeper?: NodeJS.Timeout;

  constructor(options: BoundedThrottlerStorageOptions) {
    if (!(options.maxBuckets >= 1)) throw new RangeError('maxBuckets must be at least 1');
    this.maxBuckets = options.maxBuckets;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  }

  /** Buckets held now. */
  get size(): number {
    return this.buckets.size;
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<StorageRecord> {
    this.sweeper ??= setInterval(() => this.sweep(), this.sweepIntervalMs).unref();
    const now = Date.now();
    const id = `${throttlerName}\u0000${key}`;
    let bucket = this.buckets.get(id);
    if (bucket) this.buckets.delete(id);
    if (!bucket || isIdle(bucket, now)) bucket = { hits: 0, expiresAt: now + ttl, blockedUntil: 0 };
    else if (bucket.expiresAt <= now) {
      bucket.hits = 0;
      bucket.expiresAt = now + ttl;
    }
    bucket.hits += 1;
    if (blockDuration > 0 && bucket.blockedUntil <= now && bucket.hits > limit) bucket.blockedUntil = now + blockDuration;
    this.buckets.set(id, bucket);
    while (this.buckets.size > this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value as string);

    const blockedUntil = blockDuration > 0 ? bucket.blockedUntil : bucket.hits > limit ? bucket.expiresAt : 0;
    const isBlocked = blockedUntil > now;
    return {
      totalHits: bucket.hits,
      timeToExpire: Math.ceil((bucket.expiresAt - now) / 1000),
      isBlocked,
      timeToBlockExpire: isBlocked ? Math.ceil((blockedUntil - now) / 1000) : 0,
    };
  }

  /** Drops every bucket whose window and block are both over. */
  sweep(now = Date.now()): void {
    for (const [id, bucket] of this.buckets) if (isIdle(bucket, now)) this.buckets.delete(id);
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.buckets.clear();
  }
}

const isIdle = (bucket: Bucket, now: number): boolean => bucket.expiresAt <= now && bucket.blockedUntil <= now;
