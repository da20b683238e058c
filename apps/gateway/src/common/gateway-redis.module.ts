import { type AppConfig, APP_CONFIG } from '@app/config';
import { type DynamicModule, Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
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

const connect = (url: string, keyPrefix: string) => new Redis(url, { keyPrefix, maxRetriesPerRequest: 1, commandTimeout: 2000, connectTimeout: 2000, enableOfflineQueue: true });

/**
 * The gateway's Redis connections for rate-limit counters, the health probe and serving stats (the queues have their own). Commands
 * time out instead of piling up while Redis is away, so a dead Redis shows in /health instead of hanging requests.
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
