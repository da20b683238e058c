import { type AppConfig, InjectAppConfig } from '@app/config';
import { QUEUES, type HpoJobInput, type SweepDirection, type SweepPoint, type SweepSettings } from '@app/contracts';
import { CompileError, DslSandbox, isLowerBetter, QueueDriver, QueueUnavailableError, toErrorEntry, type SandboxSweepOutput } from '@app/queue';
import { JobsRepository } from '@app/persistence';
import { Injectable, Logger } from '@nestjs/common';
import { randomInt, randomUUID } from 'crypto';
import { DomainError } from '../common/domain-error';
import { assertWebhookUrl } from '../common/webhook-url';
import { compileProblem } from '../compile/compile.errors';
import { DatasetCatalog } from '../datasets/dataset-catalog.service';
import type { HpoAcceptedDto, HpoRequestDto } from './dto/hpo-request.dto';
import { TrainService } from './train.service';

/** Parallelism of a sweep that does not say. */
export const DEFAULT_PARALLELISM = 4;

/**
 * Accepts a sweep: the model's search space (less what training_config sets), the points to train, each planned as
 * its trial will be, and the settings resolved. Everything that makes the whole sweep impossible is a 422 here; a
 * point that alone cannot train becomes a failed trial.
 */
@Injectable()
export class SweepService {
  private readonly logger = new Logger(SweepService.name);

  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly training: TrainService,
    private readonly sandbox: DslSandbox,
    private readonly catalog: DatasetCatalog,
    private readonly jobs: JobsRepository,
    private readonly queue: QueueDriver,
  ) {}

  async submit(tenantId: string, body: HpoRequestDto): Promise<HpoAcceptedDto> {
    const { search } = body;
    const limits = this.config.hpo;
    const tooMany = (field: string, value: number, max: number, name: string) => {
      if (value > max) throw DomainError.validation([{ field: `search.${field}`, message: `${field} ${value} exceeds the limit of ${max} (${name})` }]);
    };
    if (search.trials !== undefined) tooMany('trials', search.trials, limits.maxTrials, 'HPO_MAX_TRIALS');
    if (search.parallelism !== undefined) tooMany('parallelism', search.parallelism, limits.maxParallelism, 'HPO_MAX_PARALLELISM');
    const dsl = await this.training.source(tenantId, body);
    const dataset = await this.catalog.resolve(tenantId, body.dataset);
    const engine = body.backend === 'pytorch' ? 'pytorch' : 'tfjs';
    if (engine === 'pytorch') await this.training.assertPytorch();
    if (body.webhook_url) await assertWebhookUrl(body.webhook_url, this.config.webhooks.allowPrivate);
    const seed = search.seed ?? body.seed ?? randomInt(2 ** 31 - 1);
    const common = {
      source: dsl,
      engine,
      trainingConfig: { ...body.training_config },
      autoFlatten: body.auto_flatten_output,
      dataset: dataset.info,
      limits: { maxEpochs: this.config.training.maxEpochs, maxBatchSize: this.config.training.maxBatchSize },
    } as const;
    const warnings: string[] = [];
    let strategy = search.strategy;
    let out: SandboxSweepOutput;
    try {
      // The DSL's search_method is the default strategy when it names one this engine has.
      const first = await this.sandbox.sweep({ ...common, strategy: strategy ?? 'random', trials: search.trials, seed, maxTrials: limits.maxTrials });
      if (!strategy && first.searchMethod === 'grid') {
        strategy = 'grid';
        out = await this.sandbox.sweep({ ...common, strategy, trials: search.trials, seed, maxTrials: limits.maxTrials });
      } else {
        strategy ??= 'random';
        if (!search.strategy && first.searchMethod && first.searchMethod !== 'random') {
          warnings.push(`The DSL asks for search_method "${first.searchMethod}", which this platform does not have (no maintained model-based optimiser for Node.js fits); the sweep samples at random. Pass search.strategy to choose random or grid.`);
        }
        out = first;
      }
      if (!out.space.length) {
        throw new DomainError('no_search_space', 422, 'Nothing to search', 'The model has no HPO(...) sites left to search (training_config may set the ones it had). Write e.g. Dense(HPO(choice(64, 128))) or learning_rate=HPO(log_range(1e-4, 1e-2)), or train it with POST /jobs/train.', [
          { field: 'dsl_code', message: 'no HPO(...) expression to search' },
        ]);
      }
      if (out.spaceErrors) throw DomainError.validation(out.spaceErrors.map((p) => ({ field: 'search.strategy', message: p.message })), 'The grid strategy needs finite values at every site.');
      // No point can train: the first one's own refusal says why, as POST /jobs/train would.
      if (!out.points.some((p) => p.planned)) await this.sandbox.plan({ ...common, hpo: out.points[0].params });
    } catch (e) {
      if (e instanceof CompileError) throw compileProblem(e);
      throw e;
    }
    const planned = out.points.find((p) => p.planned)!.planned!;
    const trials = out.points.length;
    if (search.trials !== undefined && trials < search.trials) {
      warnings.push(`The search space has only ${trials} distinct point${trials === 1 ? '' : 's'}; the sweep runs ${trials} trial${trials === 1 ? '' : 's'}, not ${search.trials}.`);
    }
    const failing = out.points.filter((p) => p.error).length;
    if (failing) warnings.push(`${failing} of the ${trials} points cannot train with this model and dataset (see each trial's error); their trials fail without training.`);

    const metric = search.metric ?? defaultMetric(planned.plan.metrics, planned.plan.validationSplit > 0);
    const available = ['loss', ...planned.plan.metrics].flatMap((m) => (planned.plan.validationSplit > 0 ? [m, `val_${m}`] : [m]));
    if (!available.includes(metric)) {
      throw DomainError.validation([{ field: 'search.metric', message: `trials report ${available.join(', ')}; ${metric} is not one of them${metric.startsWith('val_') ? ' (val_ metrics need a validation_split above 0)' : ''}` }]);
    }
    const direction: SweepDirection = search.direction ?? (isLowerBetter(metric) ? 'min' : 'max');
    const es = search.early_stopping ?? {};
    const settings: SweepSettings = {
      strategy,
      metric,
      direction,
      parallelism: Math.min(search.parallelism ?? DEFAULT_PARALLELISM, limits.maxParallelism, trials),
      seed,
      early_stopping: { type: es.type === 'none' ? 'none' : 'successive_halving', min_epochs: es.min_epochs ?? 1, reduction_factor: es.reduction_factor ?? 3 },
    };
    const points: SweepPoint[] = out.points.map((p) =>
      p.planned
        ? { params: p.params, plan: p.planned.plan as unknown as Record<string, unknown>, summary: p.planned.summary, warnings: p.planned.warnings.map(toErrorEntry) }
        : { params: p.params, error: p.error },
    );
    const input: HpoJobInput = {
      request: { ...body, training_config: body.training_config ? { ...body.training_config } : undefined },
      dsl,
      engine,
      dataset: dataset.ref,
      search: settings,
      space: out.space,
      points,
      warnings: planned.warnings.map(toErrorEntry),
    };
    delete (input.request as { search?: unknown }).search;
    const jobId = randomUUID();
    await this.jobs.create({ id: jobId, tenantId, type: 'hpo', input, webhookUrl: body.webhook_url ?? null });
    try {
      await this.queue.enqueue(QUEUES.hpo, { jobId, tenantId });
    } catch (e) {
      if (!(e instanceof QueueUnavailableError)) throw e;
      this.logger.warn(`queue unavailable; sweep ${jobId} stays pending until the reconciler enqueues it`);
    }
    return {
      job_id: jobId,
      status: 'pending',
      total_trials: trials,
      search_space: out.space,
      warnings,
      message: `Sweep of ${trials} trials queued (${settings.strategy}, ${settings.parallelism} at once, ranked by ${metric} ${direction}); follow GET /jobs/${jobId} or GET /jobs/${jobId}/events`,
    };
  }
}

/** val_accuracy for a classifier, else val_loss; without a validation split, the training metric. */
function defaultMetric(metrics: string[], validation: boolean): string {
  const m = metrics.includes('accuracy') ? 'accuracy' : 'loss';
  return validation ? `val_${m}` : m;
}
