import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { ERROR_CODES, QUEUES, type CompileRequest, type JobPayload } from '@app/contracts';
import { JobsRepository } from '@app/persistence';
import { JobEventBus } from '../events/job-event-bus';
import { WebhookNotifier } from '../webhooks/webhook-notifier.service';
import { CompileError, DslCompileError } from './compile.errors';
import { CompileService } from './compile.service';
import { claimJob } from './claim-job';
import { JobHandlerRegistry } from './job-handler.registry';

/** Runs compile jobs: the same CompileService as the sync route, with the outcome written to the job row. */
@Injectable()
export class CompileJobService implements OnModuleInit {
  private readonly logger = new Logger(CompileJobService.name);

  constructor(
    private readonly jobs: JobsRepository,
    private readonly compiler: CompileService,
    private readonly registry: JobHandlerRegistry,
    private readonly notifier: WebhookNotifier,
    private readonly bus: JobEventBus,
  ) {}

  onModuleInit(): void {
    this.registry.register(QUEUES.compile, (payload) => this.run(payload));
  }

  /**
   * Claims the job (skipped when it is no longer pending: cancelled, or taken by another worker), compiles, and marks
   * it completed with the CompileResult or failed with the reason. Throws only when the database cannot record the
   * outcome; the job then stays `running` and the reconciler takes it from there.
   */
  async run(payload: JobPayload): Promise<void> {
    const job = await claimJob({ jobs: this.jobs, bus: this.bus, notifier: this.notifier }, payload);
    if (!job) return;
    const { id: jobId, tenantId } = job;
    try {
      const result = await this.compiler.compileAndStore(tenantId, job.input as CompileRequest, jobId);
      if (!(await this.jobs.markCompleted(jobId, { result, modelId: result.model_id }))) {
        // Cancelled while compiling: the model would belong to a job that says it never produced one.
        await this.compiler.discard(tenantId, result.model_id);
        return;
      }
      await this.bus.publishStatus(jobId, 'completed');
      await this.notifier.notify(job, 'completed', { model_id: result.model_id, download_url: result.download_url });
    } catch (err) {
      const failure = this.failure(jobId, err);
      if (!(await this.jobs.markFailed(jobId, failure))) return;
      await this.bus.publishStatus(jobId, 'failed');
      await this.notifier.notify(job, 'failed', { error: { code: failure.code, message: failure.detail } });
    }
  }


  private failure(jobId: string, err: unknown): { code: string; detail: string; errors?: unknown[] } {
    if (err instanceof DslCompileError) return { code: err.code, detail: err.message, errors: err.errors };
    if (err instanceof CompileError) return { code: err.code, detail: err.message };
    const errorId = randomUUID();
    this.logger.error(`compile job ${jobId} failed (error id ${errorId}): ${err instanceof Error ? err.message : String(err)}`, err instanceof Error ? err.stack : undefined);
    return { code: ERROR_CODES.internal, detail: `the compile failed unexpectedly (error id ${errorId})` };
  }
}
