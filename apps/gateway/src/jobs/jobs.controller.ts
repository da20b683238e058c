import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Sse, type MessageEvent } from '@nestjs/common';
import { ApiAcceptedResponse, ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import type { Observable } from 'rxjs';
import { Audited } from '../audit/audited.decorator';
import { CurrentTenant, RequiresScope, type TenantContext } from '../auth/auth.decorators';
import { ProblemDto } from '../common/dto/problem.dto';
import { ExpensiveRoute } from '../common/rate-limit.decorator';
import { IdPipe } from '../common/id.pipe';
import { Idempotent } from '../common/idempotency/idempotent.decorator';
import { JobDto, JobListDto, JobListQueryDto, WebhookDeliveryListDto } from './dto/job.dto';
import { HpoAcceptedDto, HpoRequestDto } from './dto/hpo-request.dto';
import { TrainAcceptedDto, TrainRequestDto } from './dto/train-request.dto';
import { JobsService } from './jobs.service';
import { SweepService } from './sweep.service';
import { TrainService } from './train.service';

@ApiTags('jobs')
@Controller('jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly training: TrainService,
    private readonly sweeps: SweepService,
  ) {}

  @Post('train')
  @ExpensiveRoute()
  @RequiresScope('write')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Submit a training job',
    description:
      'Trains the DSL model (dsl_code or model_id) on a dataset with the tfjs engine, or with PyTorch for backend pytorch. training_config overrides the DSL train block. ' +
      'HPO(...) sites take their default values (summary.search_space lists them; POST /jobs/hpo searches them). ' +
      'Answers the job and its experiment; follow GET /jobs/{job_id} or the events stream. The trained model is registered under /models/.',
  })
  @ApiAcceptedResponse({ type: TrainAcceptedDto })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'Invalid DSL (line/column), a layer or setting the engine cannot train, an unknown or mismatched dataset, PyTorch unavailable, or a refused webhook URL' })
  @Idempotent()
  train(@CurrentTenant() tenant: TenantContext, @Body() body: TrainRequestDto): Promise<TrainAcceptedDto> {
    return this.training.submit(tenant.tenantId, body);
  }

  @Post('hpo')
  @ExpensiveRoute()
  @RequiresScope('write')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Submit a hyperparameter sweep',
    description:
      'Searches the HPO(...) sites of the DSL model: each trial is a training job of its own (with its experiment, grouped under the sweep by sweep_id) run by whichever worker is free, at most search.parallelism at once; ' +
      'successive halving stops weak trials at their rungs (status pruned). GET /jobs/{job_id} shows the counts, the leaderboard and the best trial; the events stream has a `trial` event per finished trial. ' +
      'When the sweep completes, the best trial’s model is registered under /models/ with the chosen values written into its DSL. DELETE cancels the sweep and its unfinished trials.',
  })
  @ApiAcceptedResponse({ type: HpoAcceptedDto })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'No HPO(...) site to search, a grid over continuous ranges, a metric the trials do not report, a limit exceeded, or whatever POST /jobs/train refuses' })
  @Idempotent()
  hpo(@CurrentTenant() tenant: TenantContext, @Body() body: HpoRequestDto): Promise<HpoAcceptedDto> {
    return this.sweeps.submit(tenant.tenantId, body);
  }

  @Get()
  @RequiresScope('read')
  @ApiOperation({ summary: 'List jobs, newest first' })
  @ApiOkResponse({ type: JobListDto })
  list(@CurrentTenant() tenant: TenantContext, @Query() query: JobListQueryDto): Promise<JobListDto> {
    return this.jobs.list(tenant.tenantId, query);
  }

  @Get(':job_id')
  @RequiresScope('read')
  @ApiOperation({ summary: 'Get a job' })
  @ApiOkResponse({ type: JobDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  get(@CurrentTenant() tenant: TenantContext, @Param('job_id', new IdPipe('job')) id: string): Promise<JobDto> {
    return this.jobs.get(tenant.tenantId, id);
  }

  @Delete(':job_id')
  @RequiresScope('write')
  @Audited('job.cancelled', 'job', 'job_id')
  @HttpCode(202)
  @ApiOperation({ summary: 'Cancel a job', description: 'Answers the job (status cancelled); 409 when it already finished. Cancelling a sweep cancels its unfinished trials.' })
  @ApiAcceptedResponse({ type: JobDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  @ApiConflictResponse({ type: ProblemDto })
  cancel(@CurrentTenant() tenant: TenantContext, @Param('job_id', new IdPipe('job')) id: string): Promise<JobDto> {
    return this.jobs.cancel(tenant.tenantId, id);
  }

  @Get(':job_id/webhooks')
  @RequiresScope('read')
  @ApiOperation({ summary: 'The job’s webhook deliveries, with every attempt' })
  @ApiOkResponse({ type: WebhookDeliveryListDto })
  @ApiNotFoundResponse({ type: ProblemDto })
  webhooks(@CurrentTenant() tenant: TenantContext, @Param('job_id', new IdPipe('job')) id: string): Promise<WebhookDeliveryListDto> {
    return this.jobs.webhooks(tenant.tenantId, id);
  }

  @Sse(':job_id/events')
  @RequiresScope('read')
  @ApiOperation({
    summary: 'Stream the job as Server-Sent Events',
    description: 'A `job` event with the whole job at the start and at every change, `progress` events per batch and `epoch` events with each epoch’s metrics, until the job finishes. Works across gateways and workers (Redis pub/sub).',
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'A stream of `event: job|progress|epoch` messages whose `data` is JSON; it ends after the job finishes' })
  @ApiNotFoundResponse({ type: ProblemDto })
  async events(@CurrentTenant() tenant: TenantContext, @Param('job_id', new IdPipe('job')) id: string): Promise<Observable<MessageEvent>> {
    return this.jobs.events(tenant.tenantId, id);
  }
}
