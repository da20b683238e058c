import { APP_CONFIG, type AppConfig } from '@app/config';
import { ERROR_CODES, FINISHED_STATUSES, QUEUES, type HpoJobInput, type JobPayload, type TrainJobInput, type TrialInfo } from '@app/contracts';
import { substituteHpo } from '@app/dsl';
import { ExperimentsRepository, JobsRepository, ModelsRepository, type JobEntity } from '@app/persistence';
import { ArtifactStore, EXPERIMENT_STORE } from '@app/storage';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { setTimeout as sleep } from 'timers/promises';
import { JobEventBus } from '../events/job-event-bus';
import { JobHandlerRegistry } from '../jobs/job-handler.registry';
import { QueueDriver } from '../queue.driver';
import { QueueUnavailableError } from '../queue.errors';
import { registerTrainedModel, type TrainedFiles } from '../training/model-registration';
import { WorkerCapabilities } from '../training/worker-capabilities.service';
import { WebhookNotifier } from '../webhooks/webhook-notifier.service';
import { rungsFor, sweepView, type SweepView, type TrialEntry } from './sweep-state';

/** A running sweep's row is written at least this often, even when nothing changed (the reconciler's sign of life). */
const SWEEP_TOUCH_MS = 5000;

/** The experiment files a trained model is registered from. */
const MODEL_FILES: Record<keyof TrainedFiles, string> = {
  onnx: 'model.onnx',
  modelJson: 'model.json',
  weightsBin: 'weights.bin',
  tensorflowCode: 'model_tensorflow.py',
  pytorchCode: 'model_pytorch.py',
  stateDict: 'weights.pt',
};

/**
 * Coordinates sweeps (`hpo` jobs). A sweep's trials are ordinary train jobs on the train queue, run by whichever worker
 * is free; the coordinator only launches them (at most `parallelism` unfinished at once), announces each that ends,
 * and when all have ended registers the best trial's model. It keeps no state of its own: every pass reads the trial
 * rows, so a coordinator that dies is replaced by another (the reconciler requeues the sweep) and carries on.
 */
@Injectable()
export class SweepJobService implements OnModuleInit {
  private readonly logger = new Logger(SweepJobService.name);
  private readonly running = new Map<string, AbortController>();
  private stopping = false;

  constructor(
    private readonly jobs: JobsRepository,
    private readonly experiments: ExperimentsRepository,
    private readonly models: ModelsRepository,
    private readonly modelStore: ArtifactStore,
    @Inject(EXPERIMENT_STORE) private readonly experimentStore: ArtifactStore,
    private readonly bus: JobEventBus,
    private readonly notifier: WebhookNotifier,
    private readonly queue: QueueDriver,
    private readonly registry: JobHandlerRegistry,
    private readonly capabilities: WorkerCapabilities,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.registry.register(QUEUES.hpo, (payload) => this.run(payload), {
      concurrency: this.config.hpo.workerSweeps,
      interrupt: () => {
        this.stopping = true;
        for (const c of this.running.values()) c.abort();
      },
    });
  }

  /** Coordinates one sweep until it ends, or hands it back when the worker stops. */
  async run({ jobId, tenantId }: JobPayload): Promise<void> {
    const before = await this.jobs.findForTenant(tenantId, jobId);
    if (!before || before.type !== 'hpo') return;
    if (!(await this.jobs.markRunning(jobId, this.capabilities.info().workerId))) return;
    const controller = new AbortController();
    if (this.stopping) controller.abort();
    this.running.set(jobId, controller);
    try {
      // A sweep handed back or requeued was announced by its first coordinator (whose first pass wrote the result).
      if (before.result === null) {
        const input = before.input as HpoJobInput;
        await this.notifier.notify(before, 'started', { total_trials: input.points.length, parallelism: input.search.parallelism, search_space: input.space });
      }
      await this.bus.publishStatus(jobId, 'running');
      await this.coordinate(before, controller.signal);
    } catch (err) {
      if (controller.signal.aborted) return;
      // Most likely the database or Redis went away: the row stays running and the reconciler requeues the sweep,
      // whose next coordinator carries on. An error that keeps coming back fails the sweep once the attempts are used.
      if (before.attempts + 1 < this.config.queue.maxAttempts) throw err;
      const errorId = randomUUID();
      this.logger.error(`sweep ${jobId} failed (error id ${errorId}): ${err instanceof Error ? err.message : String(err)}`, err instanceof Error ? err.stack : undefined);
      await this.failSweep(before, { code: ERROR_CODES.internal, detail: `the sweep failed unexpectedly (error id ${errorId})` });
    } finally {
      this.running.delete(jobId);
    }
  }

  private async coordinate(sweep: JobEntity, signal: AbortSignal): Promise<void> {
    const waker = new TrialWaker(this.bus);
    try {
      await this.passes(sweep, signal, waker);
    } finally {
      await waker.close();
    }
  }

  private async passes(sweep: JobEntity, signal: AbortSignal, waker: TrialWaker): Promise<void> {
    const input = sweep.input as HpoJobInput;
    let announced: Set<number> | null = null;
    let lastWritten = '';
    let lastWrite = 0;
    for (;;) {
      const row = await this.jobs.findForTenant(sweep.tenantId, sweep.id);
      if (!row) return;
      const trials = await this.jobs.listTrials(sweep.id);
      const finished = new Set(trials.filter((t) => FINISHED_STATUSES.includes(t.status)).map((t) => t.trialIndex!));
      // What an earlier pass (maybe another coordinator's) announced is in the stored leaderboard.
      announced ??= new Set(((row.result as SweepView | null)?.leaderboard ?? []).filter((e) => FINISHED_STATUSES.includes(e.status)).map((e) => e.trial));
      if (row.status === 'cancelled') {
        // DELETE cancels the trials it saw; one launched meanwhile is cancelled here.
        await cancelUnfinishedTrials({ jobs: this.jobs, experiments: this.experiments, bus: this.bus }, sweep.tenantId, trials);
        return;
      }
      // Requeued (this coordinator was taken for lost) or finished by another: that one carries on.
      if (row.status !== 'running') return;
      if (signal.aborted) return this.handBack(sweep);
      const experiments = await this.experiments.listBySweep(sweep.id);
      let view = sweepView(row, trials, experiments);
      for (const entry of view.leaderboard) {
        if (!finished.has(entry.trial) || announced.has(entry.trial)) continue;
        await this.announce(sweep, entry, view);
        announced.add(entry.trial);
      }
      const active = trials.filter((t) => !FINISHED_STATUSES.includes(t.status)).length;
      if (trials.length === input.points.length && active === 0) return this.complete(row, view);
      let launched = 0;
      for (let i = trials.length; i < input.points.length && active + launched < input.search.parallelism; i++) {
        await this.launch(sweep, input, i);
        launched++;
      }
      const now = launched ? await this.jobs.listTrials(sweep.id) : trials;
      if (launched) view = sweepView(row, now, experiments);
      await waker.follow(now.filter((t) => !FINISHED_STATUSES.includes(t.status)).map((t) => t.id));
      const done = view.counts.completed + view.counts.pruned + view.counts.failed + view.counts.cancelled;
      // Written when it changed, and at least every SWEEP_TOUCH_MS as the sweep's sign of life.
      const text = JSON.stringify(view);
      if (text !== lastWritten || Date.now() - lastWrite >= SWEEP_TOUCH_MS) {
        await this.jobs.markSweepProgress(sweep.id, { progress: Math.min(99, Math.floor((done / Math.max(1, input.points.length)) * 100)), metrics: bestMetric(view), result: view });
        lastWritten = text;
        lastWrite = Date.now();
      }
      await waker.sleep(this.config.hpo.pollMs, signal);
    }
  }

  /** Creates trial `index`: its experiment and train job, queued for any worker. Idempotent per (sweep, index). */
  private async launch(sweep: JobEntity, input: HpoJobInput, index: number): Promise<void> {
    const point = input.points[index];
    const jobId = randomUUID();
    if (point.error) {
      // A point the engine or the dataset refuses: its trial fails without training, the sweep goes on.
      try {
        await this.jobs.create({ id: jobId, tenantId: sweep.tenantId, type: 'train', input: { sweep_id: sweep.id, hpo: point.params }, sweepId: sweep.id, trialIndex: index });
      } catch (err) {
        if (isUniqueViolation(err)) return;
        throw err;
      }
      await this.jobs.markFailed(jobId, { code: point.error.code, detail: `this trial's values cannot train: ${point.error.detail}`, errors: point.error.errors });
      return;
    }
    const plan = point.plan!;
    const epochs = Number(plan.epochs);
    const { early_stopping: es } = input.search;
    const trial: TrialInfo = {
      sweep_id: sweep.id,
      index,
      metric: input.search.metric,
      direction: input.search.direction,
      pruning: es.type === 'successive_halving' ? { rungs: rungsFor(epochs, es.min_epochs, es.reduction_factor), reduction_factor: es.reduction_factor } : null,
    };
    const summary = point.summary as { name?: string };
    const trainInput: TrainJobInput = {
      request: input.request,
      dsl: input.dsl,
      engine: input.engine,
      dataset: input.dataset,
      plan,
      summary: point.summary,
      warnings: point.warnings ?? [],
      hpo: point.params,
      trial,
    };
    const experiment = await this.experiments.create({
      tenantId: sweep.tenantId,
      name: input.request.experiment_name ?? (summary?.name ?? 'sweep').slice(0, 200),
      jobId,
      dsl: input.dsl,
      backend: input.request.backend,
      engine: input.engine,
      dataset: input.dataset.name,
      datasetId: input.dataset.kind === 'upload' ? input.dataset.id : null,
      seed: input.request.seed ?? null,
      hyperparameters: plan.hyperparameters as Record<string, unknown>,
      plan,
      sweepId: sweep.id,
    });
    try {
      await this.jobs.create({ id: jobId, tenantId: sweep.tenantId, type: 'train', input: trainInput, totalEpochs: epochs, experimentId: experiment.id, sweepId: sweep.id, trialIndex: index });
    } catch (err) {
      await this.experiments.delete(sweep.tenantId, experiment.id).catch(() => undefined);
      // Another coordinator of this sweep (one that was thought lost) launched it first.
      if (isUniqueViolation(err)) return;
      throw err;
    }
    await this.queue.enqueue(QUEUES.train, { jobId, tenantId: sweep.tenantId }).catch((err: unknown) => {
      // The row is pending: the reconciler enqueues it once the queue is back.
      if (!(err instanceof QueueUnavailableError)) throw err;
    });
  }

  /** One trial ended: a `trial` event on the sweep's stream and a `trial_finished` webhook. */
  private async announce(sweep: JobEntity, entry: TrialEntry, view: SweepView): Promise<void> {
    const trial = { ...entry, rank: view.leaderboard.indexOf(entry) + 1, best: view.best };
    await this.bus.publish({ type: 'trial', job_id: sweep.id, trial, at: new Date().toISOString() });
    await this.notifier.notify(sweep, 'trial_finished', { trial: entry, counts: view.counts, best: view.best });
  }

  /** Every trial has ended: the best completed one's model is registered and the sweep completes with the leaderboard. */
  private async complete(sweep: JobEntity, view: SweepView): Promise<void> {
    const input = sweep.input as HpoJobInput;
    const best = view.best;
    if (!best) {
      const reasons = [...new Set(view.leaderboard.map((e) => e.error?.detail).filter(Boolean))].slice(0, 3);
      return this.failSweep(sweep, {
        code: 'no_completed_trial',
        detail: `none of the ${view.counts.total} trials completed (${view.counts.failed} failed, ${view.counts.pruned} pruned, ${view.counts.cancelled} cancelled)${reasons.length ? `: ${reasons.join('; ')}` : ''}`,
      });
    }
    const modelId = await this.registerBest(sweep, input, best);
    const final: SweepView = { ...view, model_id: modelId };
    await this.jobs.markSweepProgress(sweep.id, { progress: 99, metrics: bestMetric(final), result: final });
    if (!(await this.jobs.markCompleted(sweep.id, { result: final, modelId }))) {
      // Cancelled in the meantime: no model for a sweep that did not complete.
      const removed = await this.models.delete(sweep.tenantId, modelId);
      for (const f of Object.values(removed?.formats ?? {})) await this.modelStore.delete(f.key).catch(() => undefined);
      return;
    }
    await this.bus.publishStatus(sweep.id, 'completed');
    await this.notifier.notify(sweep, 'completed', { model_id: modelId, best, counts: view.counts, leaderboard: view.leaderboard });
  }

  /**
   * Registers the best trial's trained model (copied from its experiment's artifacts) with the values it was trained
   * with, and a DSL in which those values replace the HPO(...) sites, so it compiles and trains as this model.
   */
  private async registerBest(sweep: JobEntity, input: HpoJobInput, best: TrialEntry): Promise<string> {
    const experiment = await this.experiments.findForTenant(sweep.tenantId, best.experiment_id!);
    if (!experiment) throw new Error(`the best trial's experiment ${best.experiment_id} is gone`);
    const files: Partial<Record<keyof TrainedFiles, Buffer | string | null>> = {};
    for (const [field, name] of Object.entries(MODEL_FILES) as Array<[keyof TrainedFiles, string]>) {
      const artifact = experiment.artifacts.find((a) => a.name === name);
      const data = artifact ? await this.experimentStore.get(artifact.key) : null;
      files[field] = data && (field === 'modelJson' || field.endsWith('Code')) ? data.toString('utf8') : data;
    }
    let dsl = input.dsl;
    try {
      dsl = substituteHpo(input.dsl, best.params as Record<string, never>);
    } catch (err) {
      this.logger.warn(`sweep ${sweep.id}: the chosen values could not be written into the DSL (${err instanceof Error ? err.message : String(err)}); the model keeps the sweep's DSL`);
    }
    const point = input.points[best.trial];
    const summary = point.summary as { name?: string };
    const modelId = await registerTrainedModel(
      this.models,
      this.modelStore,
      {
        tenantId: sweep.tenantId,
        name: summary?.name ?? experiment.name,
        backend: input.request.backend,
        dsl,
        summary: point.summary,
        warnings: point.warnings ?? [],
        jobId: best.job_id,
        experimentId: experiment.id,
        sweepId: sweep.id,
        hyperparameters: best.params,
      },
      files as TrainedFiles,
    );
    await this.experiments.update(experiment.id, { modelId });
    const trialJob = await this.jobs.findForTenant(sweep.tenantId, best.job_id);
    await this.jobs.attachModel(best.job_id, modelId, { ...(trialJob?.result as object), model_id: modelId, download_url: `/models/${modelId}/download` });
    return modelId;
  }

  private async failSweep(sweep: JobEntity, error: { code: string; detail: string }): Promise<void> {
    if (!(await this.jobs.markFailed(sweep.id, error))) return;
    await this.bus.publishStatus(sweep.id, 'failed');
    await this.notifier.notify(sweep, 'failed', { error: { code: error.code, message: error.detail } });
  }

  /** The worker is stopping: the sweep goes back to the queue for another coordinator; its trials run on. */
  private async handBack(sweep: JobEntity): Promise<void> {
    if (await this.jobs.handBack(sweep.id)) {
      this.logger.log(`sweep ${sweep.id} handed back to the queue`);
      await this.queue.enqueue(QUEUES.hpo, { jobId: sweep.id, tenantId: sweep.tenantId }, { handBack: true }).catch(() => undefined);
    }
  }
}

/**
 * Wakes a coordinator as soon as one of its unfinished trials changes status (the trial's run publishes it), so the
 * next trial starts at once; the poll interval is the fallback for events the bus may drop.
 */
class TrialWaker {
  private readonly followed = new Map<string, Promise<() => Promise<void>>>();
  private wake?: () => void;
  private changed = false;

  constructor(private readonly bus: JobEventBus) {}

  /** Follows exactly these trials. */
  async follow(ids: string[]): Promise<void> {
    for (const [id, sub] of this.followed) {
      if (ids.includes(id)) continue;
      this.followed.delete(id);
      await (await sub)();
    }
    for (const id of ids) {
      if (this.followed.has(id)) continue;
      this.followed.set(
        id,
        this.bus.subscribe(id, (e) => {
          if (e.type !== 'status') return;
          this.changed = true;
          this.wake?.();
        }),
      );
    }
    await Promise.all(this.followed.values());
  }

  /** Until a followed trial changes status, `ms` pass or `signal` aborts. */
  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (this.changed) {
      this.changed = false;
      return;
    }
    const timer = new AbortController();
    const woken = new Promise<void>((r) => (this.wake = r));
    await Promise.race([sleep(ms, undefined, { signal: AbortSignal.any([signal, timer.signal]) }).catch(() => undefined), woken]);
    timer.abort();
    this.wake = undefined;
    this.changed = false;
  }

  async close(): Promise<void> {
    await this.follow([]);
  }
}

/** Cancels each of the trials that has not finished (a running one stops within a batch), with its experiment. */
export async function cancelUnfinishedTrials(
  deps: { jobs: JobsRepository; experiments: ExperimentsRepository; bus: JobEventBus },
  tenantId: string,
  trials: JobEntity[],
): Promise<void> {
  for (const t of trials) {
    if (FINISHED_STATUSES.includes(t.status) || !(await deps.jobs.markCancelled(tenantId, t.id))) continue;
    await deps.bus.publishStatus(t.id, 'cancelled');
    if (t.experimentId) await deps.experiments.update(t.experimentId, { status: 'cancelled', completedAt: new Date() });
  }
}

/** The job's `metrics` while a sweep runs: the best value so far. */
function bestMetric(view: SweepView): Record<string, unknown> | null {
  return view.best ? { [`best_${view.metric}`]: view.best.value, best_trial: view.best.trial } : null;
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  const code = e?.driverError?.code ?? e?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed|duplicate key/i.test(String((err as Error)?.message));
}
