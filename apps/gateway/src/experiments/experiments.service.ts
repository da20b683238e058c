import { type AppConfig, InjectAppConfig } from '@app/config';
import { FINISHED_STATUSES } from '@app/contracts';
import { ExperimentsRepository, type ExperimentEntity } from '@app/persistence';
import { experimentArtifactKey, isLowerBetter } from '@app/queue';
import { ArtifactStore, EXPERIMENT_STORE } from '@app/storage';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { iso } from '../common/iso';
import type { OutgoingFile } from '../common/send-file';
import { JobsService } from '../jobs/jobs.service';
import type { CompareDto, CompareQueryDto, ExperimentDto, ExperimentListDto, ExperimentListItemDto, ExperimentListQueryDto } from './dto/experiment.dto';

@Injectable()
export class ExperimentsService {
  private readonly logger = new Logger(ExperimentsService.name);

  constructor(
    @InjectAppConfig() private readonly config: AppConfig,
    private readonly experiments: ExperimentsRepository,
    private readonly jobs: JobsService,
    @Inject(EXPERIMENT_STORE) private readonly store: ArtifactStore,
  ) {}

  async list(tenantId: string, q: ExperimentListQueryDto): Promise<ExperimentListDto> {
    const page = await this.experiments.list(tenantId, {
      skip: q.skip,
      limit: q.limit,
      name: q.name,
      status: q.status ?? q.status_filter,
      sweepId: q.sweep_id,
      sortBy: q.sort_by,
      order: q.order,
    });
    return { experiments: page.items.map(listItem), total: page.total, skip: q.skip, limit: q.limit };
  }

  async get(tenantId: string, id: string): Promise<ExperimentDto> {
    return detail(await this.find(tenantId, id));
  }

  /** Deletes the experiment and its artifacts; a running one is cancelled first. Its registered model stays. */
  async delete(tenantId: string, id: string): Promise<void> {
    const experiment = await this.find(tenantId, id);
    if (!FINISHED_STATUSES.includes(experiment.status)) {
      await this.jobs.cancel(tenantId, experiment.jobId).catch((e: unknown) => {
        // Finished meanwhile (409): nothing left to stop.
        if (!(e instanceof DomainError && e.status === 409)) throw e;
      });
    }
    const removed = await this.experiments.delete(tenantId, id);
    if (!removed) throw DomainError.notFound('experiment', id);
    const keys = new Set([...removed.artifacts.map((a) => a.key), experimentArtifactKey(tenantId, id, 'checkpoint.bin')]);
    await Promise.all([...keys].map((k) => this.store.delete(k)));
  }

  /** An artifact by its exact name from the experiment's list (never a path built from the request). */
  async artifact(tenantId: string, id: string, name: string): Promise<OutgoingFile> {
    const experiment = await this.find(tenantId, id);
    const artifact = experiment.artifacts.find((a) => a.name === name);
    if (!artifact) throw DomainError.notFound(`artifact ${JSON.stringify(name.slice(0, 100))} of experiment`, id);
    if (!(await this.store.exists(artifact.key))) {
      this.logger.error(`artifact ${artifact.key} of experiment ${id} is missing from the store`);
      throw DomainError.notFound(`artifact ${JSON.stringify(name)} of experiment`, id);
    }
    return { stream: this.store.stream(artifact.key), filename: artifact.name, contentType: artifact.contentType, sizeBytes: artifact.sizeBytes };
  }

  async compare(tenantId: string, id: string, q: CompareQueryDto): Promise<CompareDto> {
    const trials = q.sweep_id ? (await this.experiments.listBySweep(q.sweep_id)).filter((e) => e.tenantId === tenantId).map((e) => e.id) : [];
    if (q.sweep_id && !trials.length) throw DomainError.notFound('sweep', q.sweep_id);
    const others = [...new Set([...(q.compare_with ?? []), ...(q.ids ?? []), ...trials].map((x) => x.toLowerCase()))].filter((x) => x !== id);
    if (!others.length) throw DomainError.validation([{ field: 'compare_with', message: 'give at least one other experiment id (compare_with=<id>, repeatable, ids=<id>,<id>, or sweep_id=<sweep job id>)' }]);
    if (others.length + 1 > this.config.experiments.compareMax) {
      throw DomainError.validation([{ field: 'compare_with', message: `at most ${this.config.experiments.compareMax} experiments can be compared at once (COMPARE_MAX_EXPERIMENTS)` }]);
    }
    const base = await this.find(tenantId, id);
    const found = new Map((await this.experiments.findManyForTenant(tenantId, others)).map((e) => [e.id, e]));
    const missing = others.filter((o) => !found.has(o));
    if (missing.length) throw DomainError.notFound('experiment', missing[0]);
    const all = [base, ...others.map((o) => found.get(o)!)];

    const keys = new Set(all.flatMap((e) => Object.keys(e.hyperparameters)));
    const differences: CompareDto['hyperparameter_differences'] = {};
    for (const k of [...keys].sort()) {
      const values = Object.fromEntries(all.map((e) => [e.id, e.hyperparameters[k] ?? null]));
      if (new Set(Object.values(values).map((v) => JSON.stringify(v))).size > 1) differences[k] = values;
    }
    const finalMetrics: CompareDto['final_metrics'] = {};
    for (const e of all) for (const [m, v] of Object.entries(e.finalMetrics ?? {})) (finalMetrics[m] ??= {})[e.id] = v;
    const best: CompareDto['best'] = {};
    for (const [m, byExperiment] of Object.entries(finalMetrics)) {
      const goal = isLowerBetter(m) ? 'min' : 'max';
      const [winner, value] = Object.entries(byExperiment).reduce((a, b) => ((goal === 'min' ? b[1] < a[1] : b[1] > a[1]) ? b : a));
      best[m] = { experiment_id: winner, value, goal };
    }
    return {
      experiments: all.map((e) => ({
        experiment_id: e.id,
        name: e.name,
        status: e.status,
        hyperparameters: e.hyperparameters,
        final_metrics: e.finalMetrics,
        best_metrics: e.bestMetrics,
        test_metrics: e.testMetrics,
        history: e.history,
      })),
      hyperparameter_differences: differences,
      final_metrics: finalMetrics,
      best,
    };
  }

  private async find(tenantId: string, id: string): Promise<ExperimentEntity> {
    const e = await this.experiments.findForTenant(tenantId, id);
    if (!e) throw DomainError.notFound('experiment', id);
    return e;
  }
}

function listItem(e: ExperimentEntity): ExperimentListItemDto {
  return {
    experiment_id: e.id,
    name: e.name,
    job_id: e.jobId,
    model_id: e.modelId,
    sweep_id: e.sweepId ?? null,
    status: e.status,
    backend: e.backend,
    engine: e.engine,
    compute_backend: e.computeBackend,
    dataset: e.dataset,
    seed: e.seed,
    hyperparameters: e.hyperparameters,
    epochs_completed: e.history.length,
    final_metrics: e.finalMetrics,
    best_metrics: e.bestMetrics,
    test_metrics: e.testMetrics,
    created_at: iso(e.createdAt)!,
    started_at: iso(e.startedAt),
    completed_at: iso(e.completedAt),
  };
}

function detail(e: ExperimentEntity): ExperimentDto {
  return {
    ...listItem(e),
    dsl_code: e.dsl,
    history: e.history,
    artifacts: e.artifacts.map((a) => ({ name: a.name, content_type: a.contentType, size_bytes: a.sizeBytes, download_url: `/experiments/${e.id}/artifacts/${a.name}` })),
    error: e.error,
    plan: e.plan,
  };
}
