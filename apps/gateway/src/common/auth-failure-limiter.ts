import { type AppConfig, InjectAppConfig } from '@app/config';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { normalizeIp } from '@nestjs/throttler';
import type Redis from 'ioredis';
import { GATEWAY_REDIS } from './gateway-redis.module';

/**
 * Counts failed authentications per client address (AUTH_FAILURE_LIMIT per AUTH_FAILURE_PERIOD seconds, shared
 * through Redis when there is one) and blocks an address past the limit until its window ends, so keys cannot be
 * guessed at speed. The blocked set is kept per process and learnt from the failures it counts: checking it costs a
 * successful request nothing. Memory is bounded: at most RATE_LIMIT_MAX_TRACKED addresses, oldest dropped first.
 */
@Injectable()
export class AuthFailureLimiter {
  private readonly logger = new Logger(AuthFailureLimiter.name);
  /** client key → { count, window end } (in-memory counting, embedded mode). Map order is insertion order: oldest first. */
  private readonly counts = new Map<string, { count: number; resetAt: number }>();
  /** client key (address, IPv6 /64) → blocked until (ms). */
  private readonly blocked = new Map<string, number>();
  private readonly limit: number;
  private readonly periodMs: number;
  private readonly maxTracked: number;

  constructor(
    @InjectAppConfig() config: AppConfig,
    @Inject(GATEWAY_REDIS) private readonly redis: Redis | null,
  ) {
    this.limit = config.rateLimit.authFailureLimit;
    this.periodMs = config.rateLimit.authFailurePeriodSeconds * 1000;
    this.maxTracked = config.rateLimit.maxTrackedClients;
  }

  /** Seconds until `address` may authenticate again; 0 when it may now. */
  blockedFor(address: string): number {
    const key = clientKey(address);
    const until = this.blocked.get(key);
    if (until === undefined) return 0;
    const left = until - Date.now();
    if (left <= 0) {
      this.blocked.delete(key);
      return 0;
    }
    return Math.ceil(left / 1000);
  }

  /** Counts a failure; returns the seconds `address` is now blocked for (0 while it is within the limit). */
  async recordFailure(address: string): Promise<number> {
    const key = clientKey(address);
    let count: number;
    let resetInMs: number;
    try {
      [count, resetInMs] = this.redis ? await this.countInRedis(key) : this.countInMemory(key);
    } catch (err) {
      this.logger.warn(`failed authentications not counted, Redis failed: ${err instanceof Error ? err.message : String(err)}`);
      return 0;
    }
    if (count <= this.limit) return 0;
    remember(this.blocked, key, Date.now() + resetInMs, this.maxTracked);
    return Math.max(1, Math.ceil(resetInMs / 1000));
  }

  private async countInRedis(key: string): Promise<[number, number]> {
    const redisKey = `authfail:${key}`;
    // The window starts with the first failure: SET NX gives the key its expiry once, INCR never touches it.
    const replies = await this.redis!.multi().set(redisKey, 0, 'PX', this.periodMs, 'NX').incr(redisKey).pttl(redisKey).exec();
    if (!replies) throw new Error('the transaction was aborted');
    for (const [err] of replies) if (err) throw err;
    const count = Number(replies[1][1]);
    let ttl = Number(replies[2][1]);
    // A counter without expiry (written by anything but this transaction) would block the address for good.
    if (ttl < 0) {
      await this.redis!.pexpire(redisKey, this.periodMs);
      ttl = this.periodMs;
    }
    return [count, ttl];
  }

  private countInMemory(key: string): [number, number] {
    const now = Date.now();
    const entry = this.counts.get(key);
    if (!entry || entry.resetAt <= now) {
      remember(this.counts, key, { count: 1, resetAt: now + this.periodMs }, this.maxTracked);
      return [1, this.periodMs];
    }
    entry.count += 1;
    return [entry.count, entry.resetAt - now];
  }
}

/**
 * IPv6 clients are counted per /64, the block one subscriber gets: otherwise each failure could come from a new address.
 * The throttler's own normalisation, so an address has the same key here as in the per-IP request budget.
 */
export function clientKey(address: string): string {
  return normalizeIp(address, 64);
}

function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as string);
}
