import { type AppConfig, InjectAppConfig } from '@app/config';
import { QUEUES, type TrainJobInput } from '@app/contracts';
import { ExperimentsRepository, JobsRepository, ModelsRepository } from '@app/persistence';
import { CompileError, DslSandbox, QueueDriver, QueueUnavailableError, toErrorEntry, WorkerHeartbeat } from '@app/queue';
import { findPython } from '@app/training';
import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { DomainError } from '../common/domain-error';
import { assertWebhookUrl } from '../common/webhook-url';
import { compileProblem } from '../compile/compile.errors';
import { DatasetCatalog } from '../datasets/dataset-catalog.service';
import type { TrainAcceptedDto, TrainRequestDto } from './dto/train-request.dto';

/**
 * Accepts a training: everything that can be refused is refused here, with a 422 that says why (DSL errors, a layer
 * or optimizer the engine cannot train, a dataset that does not exist or does not fit the model, PyTorch missing, a
 * refused webhook target), so a job that is queued has a plan that will run.
 */
@Injectable()
export class TrainService {
  private readonly logger = new Logger(TrainService.name);

  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly sandbox: DslSandbox,
    private readonly catalog: DatasetCatalog,
    private readonly models: ModelsRepository,
    private readonly jobs: JobsRepository,
    private readonly experiments: ExperimentsRepository,
    private readonly queue: QueueDriver,
    private readonly heartbeat: WorkerHeartbeat,
  ) {}

  async submit(tenantId: string, body: TrainRequestDto): Promise<TrainAcceptedDto> {
    const dsl = await this.source(tenantId, body);
    const dataset = await this.catalog.resolve(tenantId, body.dataset);
    const engine = body.backend === 'pytorch' ? 'pytorch' : 'tfjs';
    if (engine === 'pytorch') await this.assertPytorch();
    if (body.webhook_url) await assertWebhookUrl(body.webhook_url, this.config.webhooks.allowPrivate);
    let planned;
    try {
      planned = await this.sandbox.plan({
        source: dsl,
        engine,
        trainingConfig: { ...body.training_config },
        autoFlatten: body.auto_flatten_output,
        dataset: dataset.info,
        limits: { maxEpochs: this.config.training.maxEpochs, maxBatchSize: this.config.training.maxBatchSize },
      });
    } catch (e) {
      if (e instanceof CompileError) throw compileProblem(e);
      throw e;
    }
    const input: TrainJobInput = {
      request: { ...body, training_config: body.training_config ? { ...body.training_config } : undefined },
      dsl,
      engine,
      dataset: dataset.ref,
      plan: planned.plan as unknown as Record<string, unknown>,
      summary: planned.summary,
      warnings: planned.warnings.map(toErrorEntry),
    };
    const jobId = randomUUID();
    const experiment = await this.experiments.create({
      tenantId,
      name: body.experiment_name ?? planned.summary.name.slice(0, 200),
      jobId,
      dsl,
      backend: body.backend,
      engine,
      dataset: dataset.info.name,
      datasetId: dataset.ref.kind === 'upload' ? dataset.ref.id : null,
      seed: body.seed ?? null,
      hyperparameters: planned.plan.hyperparameters,
      plan: input.plan,
    });
    try {
      await this.jobs.create({ id: jobId, tenantId, type: 'train', input, webhookUrl: body.webhook_url ?? null, totalEpochs: planned.plan.epochs, experimentId: experiment.id });
    } catch (e) {
      await this.experiments.delete(tenantId, experiment.id).catch(() => undefined);
      throw e;
    }
    try {
      await this.queue.enqueue(QUEUES.train, { jobId, tenantId });
    } catch (e) {
      // The row is saved as pending: the reconciler enqueues it once the queue is back, so the job is not lost.
      if (!(e instanceof QueueUnavailableError)) throw e;
      this.logger.warn(`queue unavailable; job ${jobId} stays pending until the reconciler enqueues it`);
    }
    return { job_id: jobId, experiment_id: experiment.id, status: 'pending', message: `Training job queued; poll GET /jobs/${jobId} or stream GET /jobs/${jobId}/events` };
  }

  /** The DSL to train: the request's, or a registered model's. */
  async source(tenantId: string, body: TrainRequestDto): Promise<string> {
    if (body.dsl_code !== undefined && body.model_id !== undefined) throw DomainError.validation([{ field: 'model_id', message: 'give either dsl_code or model_id, not both' }]);
    if (body.model_id !== undefined) {
      const model = await this.models.findForTenant(tenantId, body.model_id);
      if (!model) throw DomainError.validation([{ field: 'model_id', message: `no model with id ${body.model_id} exists` }]);
      return model.dsl;
    }
    if (body.dsl_code === undefined || !body.dsl_code.trim()) throw DomainError.validation([{ field: 'dsl_code', message: 'dsl_code (or model_id) is required' }]);
    return body.dsl_code;
  }

  /** 422 when PyTorch is known to be missing: locally in embedded mode, on every live worker in distributed mode. */
  async assertPytorch(): Promise<void> {
    let available: boolean;
    if (this.config.mode === 'embedded') {
      available = (await findPython(this.config.training.pythonBin)) !== null;
    } else {
      const workers = await this.heartbeat.workers().catch(() => []);
      // With no worker alive there is no telling; the job waits, and fails with a reason if its worker lacks PyTorch.
      available = workers.length === 0 || workers.some((w) => w.pytorch !== null);
    }
    if (!available) {
      throw new DomainError('engine_unavailable', 422, 'PyTorch not available', 'backend pytorch trains with PyTorch, which no worker has (install python3-torch or set PYTHON_BIN); use backend tensorflow or onnx to train with the tfjs engine.', [
        { field: 'backend', message: 'PyTorch is not installed on the workers' },
      ]);
    }
  }
}
