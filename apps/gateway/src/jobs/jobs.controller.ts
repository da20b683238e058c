import { Controller, Delete, Get, HttpCode, Param, Query, Sse, type MessageEvent } from '@nestjs/common';
import { ApiAcceptedResponse, ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Observable } from 'rxjs';
import { CurrentTenant, type TenantContext } from '../auth/auth.decorators';
import { ProblemDto } from '../common/dto/problem.dto';
import { IdPipe } from '../common/id.pipe';
import { JobDto, JobListDto, JobListQueryDto } from './dto/job.dto';
import { JobsService } from './jobs.service';

@ApiTags('jobs')
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  @Get()
  @ApiOperation({ summary: 'List jobs, newest first' })
  @ApiOkResponse({ type: JobListDto })
  list(@CurrentTenant() tenant: TenantContext, @Query() query: JobListQueryDto): Promise<JobListDto> {
    return this.jobs.list(tenant.tenantId, query);
  }

  @Get(':job_id')
  @ApiOperation({ summary: 'Get a job' })
  @ApiOkResponse({ type: JobDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  get(@CurrentTenant() tenant: TenantContext, @Param('job_id', new IdPipe('job')) id: string): Promise<JobDto> {
    return this.jobs.get(tenant.tenantId, id);
  }

  @Delete(':job_id')
  @HttpCode(202)
  @ApiOperation({ summary: 'Cancel a job', description: 'Answers the job (status cancelled); 409 when it already finished.' })
  @ApiAcceptedResponse({ type: JobDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  @ApiConflictResponse({ type: ProblemDto })
  cancel(@CurrentTenant() tenant: TenantContext, @Param('job_id', new IdPipe('job')) id: string): Promise<JobDto> {
    return this.jobs.cancel(tenant.tenantId, id);
  }

  @Sse(':job_id/events')
  @ApiOperation({ summary: 'Stream the job as Server-Sent Events', description: 'One `job` event with the job at every change, until it finishes.' })
  @ApiProduces('text/event-stream')
  @ApiNotFoundResponse({ type: ProblemDto })
  async events(@CurrentTenant() tenant: TenantContext, @Param('job_id', new IdPipe('job')) id: string): Promise<Observable<MessageEvent>> {
    return this.jobs.events(tenant.tenantId, id);
  }
}
