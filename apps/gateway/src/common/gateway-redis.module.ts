import { type AppConfig, APP_CONFIG } from '@app/config';
import { type DynamicModule, Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';

/** Injection token of the gateway's own Redis connection (`Redis | null`; null in embedded mode). */
export const GATEWAY_REDIS = 'GATEWAY_REDIS';

@Injectable()
class GatewayRedisCloser implements OnApplicationShutdown {
  constructor(@Inject(GATEWAY_REDIS) private readonly redis: Redis | null) {}

  async onApplicationShutdown(): Promise<void> {
    if (!this.redis || this.redis.status === 'end') return;
    await this.redis.quit().catch(() => this.redis?.disconnect());
  }
}

/**
 * The gateway's Redis connection for rate-limit counters and the health probe (the queues have their own). Commands
 * time out instead of piling up while Redis is away, so a dead Redis shows in /health instead of hanging requests.
 */
@Global()
@Module({})
export class GatewayRedisModule {
  static forRoot(keyPrefix: string): DynamicModule {
    return {
      module: GatewayRedisModule,
      providers: [
        {
          provide: GATEWAY_REDIS,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) =>
            config.redis.url
              ? new Redis(config.redis.url, { keyPrefix, maxRetriesPerRequest: 1, commandTimeout: 2000, connectTimeout: 2000, enableOfflineQueue: true })
              : null,
        },
        GatewayRedisCloser,
      ],
      exports: [GATEWAY_REDIS],
    };
  }
}
