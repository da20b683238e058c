import { QUEUES } from '@app/contracts';
import { JobsRepository } from '@app/persistence';
import { type AppConfig, InjectAppConfig } from '@app/config';
import { CompileError, CompileService, QueueDriver, QueueUnavailableError } from '@app/queue';
import { Body, Controller, HttpCode, Logger, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { CurrentTenant, RequiresScope, type TenantContext } from '../auth/auth.decorators';
import { ProblemDto } from '../common/dto/problem.dto';
import { Idempotent } from '../common/idempotency/idempotent.decorator';
import { ExpensiveRoute } from '../common/rate-limit.decorator';
import { CompileAcceptedDto, CompileResultDto } from './dto/compile-result.dto';
import { CompileRequestDto } from './dto/compile-request.dto';
import { assertWebhookUrl } from '../common/webhook-url';
import { compileProblem } from './compile.errors';

@ApiTags('compile')
@Controller('compile')
export class CompileController {
  private readonly logger = new Logger(CompileController.name);

  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly compiler: CompileService,
    private readonly jobs: JobsRepository,
    private readonly queue: QueueDriver,
  ) {}

  @Post('sync')
  @ExpensiveRoute()
  @RequiresScope('write')
  @HttpCode(200)
  @ApiOperation({ summary: 'Compile a DSL model now', description: 'Registers the compiled model under /models/.' })
  @ApiOkResponse({ type: CompileResultDto })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'DSL errors (line, column, message, hint) or an invalid body' })
  async sync(@CurrentTenant() tenant: TenantContext, @Body() body: CompileRequestDto): Promise<CompileResultDto> {
    // Sync sends no webhook, but a refused target is refused here too rather than silently accepted.
    if (body.webhook_url) await assertWebhookUrl(body.webhook_url, this.config.webhooks.allowPrivate);
    try {
      return await this.compiler.compileAndStore(tenant.tenantId, body, null);
    } catch (e) {
      if (e instanceof CompileError) throw compileProblem(e);
      throw e;
    }
  }

  @Post()
  @ExpensiveRoute()
  @RequiresScope('write')
  @HttpCode(202)
  @ApiOperation({ summary: 'Submit an asynchronous compile job', description: 'Poll GET /jobs/{job_id}; its result is the sync answer.' })
  @ApiAcceptedResponse({ type: CompileAcceptedDto })
  @Idempotent()
  async submit(@CurrentTenant() tenant: TenantContext, @Body() body: CompileRequestDto): Promise<CompileAcceptedDto> {
    if (body.webhook_url) await assertWebhookUrl(body.webhook_url, this.config.webhooks.allowPrivate);
    const job = await this.jobs.create({ tenantId: tenant.tenantId, type: 'compile', input: { ...body }, webhookUrl: body.webhook_url ?? null });
    try {
      await this.queue.enqueue(QUEUES.compile, { jobId: job.id, tenantId: tenant.tenantId });
    } catch (e) {
      // The row is saved as pending: the reconciler enqueues it once the queue is back, so the job is not lost.
      if (!(e instanceof QueueUnavailableError)) throw e;
      this.logger.warn(`queue unavailable; job ${job.id} stays pending until the reconciler enqueues it`);
    }
    return { job_id: job.id, status: 'pending', message: `Compile job queued; poll GET /jobs/${job.id}` };
  }
}
