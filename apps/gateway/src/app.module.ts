import { type AppConfig, AppConfigModule } from '@app/config';
import { loggingModule } from '@app/config/logging';
import { PersistenceModule } from '@app/persistence';
import { QueueModule, WorkerCoreModule } from '@app/queue';
import { StorageModule } from '@app/storage';
import { type DynamicModule, Module, type ModuleMetadata, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, Reflector } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import { AuditModule } from './audit/audit.module';
import { ApiAuthGuard } from './auth/auth.guard';
import { AuthModule } from './auth/auth.module';
import { CompileModule } from './compile/compile.module';
import { DatasetsModule } from './datasets/datasets.module';
import { DeploymentsModule } from './deployments/deployments.module';
import { ExperimentsModule } from './experiments/experiments.module';
import { JobsModule } from './jobs/jobs.module';
import { MetricsModule } from './metrics/metrics.module';
import { ModelsModule } from './models/models.module';
import { BoundedThrottlerStorage } from './common/bounded-throttler-storage';
import { GATEWAY_REDIS, GatewayRedisModule } from './common/gateway-redis.module';
import { IdempotencyModule } from './common/idempotency/idempotency.module';
import { ProblemFilter } from './common/problem.filter';
import { RateLimitGuard, rateLimitOptions } from './common/rate-limit.guard';
import { SystemModule } from './system/system.module';

export interface AppModuleOptions {
  /** Redis key prefix of the queues, the worker heartbeat and the rate-limit counters (distributed mode). */
  redisPrefix: string;
  /** Run the job consumers in this process (embedded mode). */
  runWorker: boolean;
  /** Log through pino (JSON lines with request ids) instead of the logger the caller gave Nest. */
  structuredLogs?: boolean;
  /** More modules, e.g. test-only controllers. */
  imports?: ModuleMetadata['imports'];
}

/** The gateway: infrastructure, auth, rate limiting, the error filter and every feature module. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, options: AppModuleOptions): DynamicModule {
    const imports: NonNullable<ModuleMetadata['imports']> = [
      AppConfigModule.forRoot(config),
      PersistenceModule.forRoot(),
      StorageModule.forRoot(),
      QueueModule.forRoot(config, { prefix: options.redisPrefix }),
      GatewayRedisModule.forRoot(options.redisPrefix),
      AuditModule,
      IdempotencyModule,
      AuthModule,
      MetricsModule,
      SystemModule,
      CompileModule,
      JobsModule,
      ExperimentsModule,
      DatasetsModule,
      ModelsModule,
      DeploymentsModule,
    ];
    if (options.runWorker) imports.push(WorkerCoreModule);
    if (options.structuredLogs) imports.push(loggingModule(config));
    // Guards run in this order: who is calling first, so the rate limit can count per API key.
    const providers: Provider[] = [
      { provide: APP_FILTER, useClass: ProblemFilter },
      { provide: APP_GUARD, useExisting: ApiAuthGuard },
    ];
    if (config.rateLimit.enabled) {
      imports.push(
        ThrottlerModule.forRootAsync({
          inject: [GATEWAY_REDIS, Reflector],
          useFactory: (redis: Redis | null, reflector: Reflector) =>
            rateLimitOptions(
              config,
              reflector,
              // Counters in Redis are shared by every gateway replica (and expire with their window); in memory they are this process's alone.
              redis ? new ThrottlerStorageRedisService(redis) : new BoundedThrottlerStorage({ maxBuckets: config.rateLimit.maxTrackedClients }),
            ),
        }),
      );
      providers.push({ provide: APP_GUARD, useClass: RateLimitGuard });
    }
    imports.push(...(options.imports ?? []));
    return { module: AppModule, imports, providers };
  }
}
