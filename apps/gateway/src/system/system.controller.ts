import { type AppConfig, InjectAppConfig } from '@app/config';
import { LAYER_TYPES } from '@app/dsl';
import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { description, version } from '../../../../package.json';
import { Public } from '../auth/auth.decorators';
import { NoRateLimit } from '../common/rate-limit.decorator';
import { ApiInfoDto, HealthReportDto, LivenessReportDto, ReadinessReportDto } from './dto/health.dto';
import { HealthService } from './health.service';

/** `GET /` and the health probes; public. */
@ApiTags('system')
@Public()
@Controller()
export class SystemController {
  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly health: HealthService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'API information' })
  @ApiOkResponse({ type: ApiInfoDto })
  info(): ApiInfoDto {
    return {
      name: 'Neural DSL Platform',
      version,
      description,
      mode: this.config.mode,
      links: { docs: '/docs', redoc: '/redoc', openapi: '/openapi.json', health: '/health' },
      dsl_layer_types: LAYER_TYPES.length,
    };
  }

  @Get('health')
  @NoRateLimit()
  @ApiOperation({ summary: 'Health of the API and its dependencies', description: 'HTTP 503 when a required service (database, Redis, queue) is down.' })
  @ApiOkResponse({ type: HealthReportDto })
  @ApiServiceUnavailableResponse({ type: HealthReportDto, description: 'A required service is down' })
  async check(@Res({ passthrough: true }) res: Response): Promise<HealthReportDto> {
    const report = await this.health.check();
    if (report.status !== 'healthy') res.status(503);
    return report;
  }

  @Get('health/live')
  @NoRateLimit()
  @ApiOperation({ summary: 'Liveness probe: the process is up and serving' })
  @ApiOkResponse({ type: LivenessReportDto })
  live(): LivenessReportDto {
    return { status: 'alive', uptime_seconds: Math.round(process.uptime()) };
  }

  @Get('health/ready')
  @NoRateLimit()
  @ApiOperation({ summary: 'Readiness probe: the database and the queue answer' })
  @ApiOkResponse({ type: ReadinessReportDto })
  @ApiServiceUnavailableResponse({ type: ReadinessReportDto, description: 'The database or the queue is down' })
  async ready(@Res({ passthrough: true }) res: Response): Promise<ReadinessReportDto> {
    const report = await this.health.readiness();
    if (report.status !== 'ready') res.status(503);
    return report;
  }
}
