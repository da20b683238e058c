import { type AppConfig, APP_CONFIG } from '@app/config';
import { type DynamicModule, Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { once } from 'events';
import Redis from 'ioredis';

/** Injection token of the gateway's own Redis connection (`Redis | null`; null in embedded mode). */
export const GATEWAY_REDIS = 'GATEWAY_REDIS';
/** Injection token of a Redis connection whose keys start `<prefix>:deployments:` (`Redis | null`), for serving stats. */
export const DEPLOYMENTS_REDIS = 'DEPLOYMENTS_REDIS';

@Injectable()
class GatewayRedisCloser implements OnApplicationShutdown {
  constructor(
    @Inject(GATEWAY_REDIS) private readonly redis: Redis | null,
    @Inject(DEPLOYMENTS_REDIS) private readonly deployments: Redis | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      [this.redis, this.deployments].map(async (redis) => {
        if (!redis || redis.status === 'end') return;
        await redis.quit().catch(() => redis.disconnect());
      }),
    );
  }
}

const CONNECT_TIMEOUT_MS = 2000;

/** Resolves once connected, or after the connect timeout or the first error: a gateway starts whether Redis is there or not. */
async function connect(url: string, keyPrefix: string): Promise<Redis> {
  const redis = new Redis(url, { keyPrefix, maxRetriesPerRequest: 1, commandTimeout: 2000, connectTimeout: CONNECT_TIMEOUT_MS, enableOfflineQueue: false });
  await once(redis, 'ready', { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) }).catch(() => undefined);
  return redis;
}

/**
 * The gateway's Redis connections for rate-limit counters, the health probe and serving stats (the queues have their
 * own). Without an offline queue a command fails at once while Redis is away, and a slow one times out: a dead Redis
 * shows in /health, rate limits fail open and stats stay local, instead of every request waiting on Redis.
 */
@Global()
@Module({})
export class GatewayRedisModule {
  /** `prefix` is the deployment's Redis key prefix: rate-limit keys start `<prefix>:ratelimit:`. */
  static forRoot(prefix: string): DynamicModule {
    return {
      module: GatewayRedisModule,
      providers: [
        { provide: GATEWAY_REDIS, inject: [APP_CONFIG], useFactory: (config: AppConfig) => (config.redis.url ? connect(config.redis.url, `${prefix}:ratelimit:`) : null) },
        { provide: DEPLOYMENTS_REDIS, inject: [APP_CONFIG], useFactory: (config: AppConfig) => (config.redis.url ? connect(config.redis.url, `${prefix}:deployments:`) : null) },
        GatewayRedisCloser,
      ],
      exports: [GATEWAY_REDIS, DEPLOYMENTS_REDIS],
    };
  }
}
