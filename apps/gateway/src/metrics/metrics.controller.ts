import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { RequiresScope } from '../auth/auth.decorators';
import { NoRateLimit } from '../common/rate-limit.decorator';
import { GatewayMetrics } from './gateway-metrics.service';

@ApiTags('system')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: GatewayMetrics) {}

  @Get()
  @RequiresScope('admin')
  @NoRateLimit()
  @ApiOperation({
    summary: 'Prometheus metrics (administrators)',
    description:
      'Prometheus text format 0.0.4: HTTP requests and latency by route template and status, queue depth by queue and state, job durations by type and outcome, ' +
      'training samples, predict latency per deployment, webhook delivery outcomes and process metrics, all prefixed `neural_`. ' +
      'Job, training and webhook metrics come from the process that runs the jobs: this gateway in embedded mode, each worker (on WORKER_METRICS_PORT) in distributed mode.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'The metrics in the Prometheus text format', schema: { type: 'string' } })
  async scrape(@Res() res: Response): Promise<void> {
    const text = await this.metrics.registry.metrics();
    // Written as is: Express's send() would reorder the content type's parameters.
    res.status(200).setHeader('Content-Type', this.metrics.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.end(text);
  }
}
