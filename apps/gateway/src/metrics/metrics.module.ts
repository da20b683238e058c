import { Global, Module } from '@nestjs/common';
import { GatewayMetrics } from './gateway-metrics.service';
import { MetricsController } from './metrics.controller';
import { QueueDashboardController } from './queue-dashboard.controller';

/** `GET /metrics` and the queue dashboard; {@link GatewayMetrics} is global so features can record into it. */
@Global()
@Module({ controllers: [MetricsController, QueueDashboardController], providers: [GatewayMetrics], exports: [GatewayMetrics] })
export class MetricsModule {}
