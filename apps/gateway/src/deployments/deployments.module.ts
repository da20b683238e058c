import { Module } from '@nestjs/common';
import type Redis from 'ioredis';
import { DEPLOYMENTS_REDIS } from '../common/gateway-redis.module';
import { DeploymentStats } from './deployment-stats';
import { DeploymentsController } from './deployments.controller';
import { DeploymentsService } from './deployments.service';
import { ServingService } from './serving.service';

@Module({
  controllers: [DeploymentsController],
  providers: [{ provide: DeploymentStats, inject: [DEPLOYMENTS_REDIS], useFactory: (redis: Redis | null) => new DeploymentStats(redis) }, ServingService, DeploymentsService],
})
export class DeploymentsModule {}
