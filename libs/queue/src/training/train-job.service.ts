import { APP_CONFIG, type AppConfig } from '@app/config';
import { ERROR_CODES, QUEUES, type JobEvent, type JobPayload, type ModelBackend, type TrainJobInput, type TrainResult } from '@app/contracts';
import type { BatchProgress, EpochRow } from '@app/dsl/train/types';
import {
  DatasetsRepository,
  ExperimentsRepository,
  JobsRepository,
  ModelsRepository,
  type ExperimentArtifact,
  type ExperimentEntity,
  type JobEntity,
  type JobError,
  type ModelFormat,
} from '@app/persistence';
import { ArtifactStore, DATASET_STORE, EXPERIMENT_STORE } from '@app/storage';
import { findPython, TrainingFailedError, TrainingSandbox, type TaskResult, type TaskStarted, type TrainTask } from '@app/training';
import { Inject, Injectable, Logger, Optional, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { JobEventBus } from '../events/job-event-bus';
import { JobHandlerRegistry } from '../jobs/job-handler.registry';
import { QueueMetrics } from '../metrics/queue-metrics';
import { QueueDriver } from '../queue.driver';
import { WebhookNotifier } from '../webhooks/webhook-notifier.service';
import { bestMetrics, historyCsv, metricsOf } from './experiment-metrics';
import { rungDecision } from '../sweeps/sweep-state';
import { WorkerCapabilities } from './worker-capabilities.service';
import { registerTrainedModel } from './model-registration';

/** A running job's progress is written at most this often (epochs always); it is also the reconciler's sign of life. */
const PROGRESS_WRITE_MS = 1000;
/** A running job is touched at least this often, so the reconciler never takes a slow epoch for a lost worker. */
const HEARTBEAT_MS = 5000;
/** How often a running job's row is checked for a cancel that the event bus may have missed. */
const CANCEL_POLL_MS = 2000;
/** The training log kept per experiment is cut at this size. */
const MAX_LOG_BYTES = 1024 * 1024;

type StopReason = 'cancelled' | 'timeout' | 'shutdown' | 'pruned';

/** Files of an experiment: name → content type. */
const CONTENT_TYPES: Record<string, string> = {
  'model.json': 'application/json',
  'weights.bin': 'application/octet-stream',
  'model.onnx': 'application/octet-stream',
  'model_tensorflow.py': 'text/x-python',
  'model_pytorch.py': 'text/x-python',
  'weights.pt': 'application/octet-stream',
  'metrics.csv': 'text/csv',
  'training.log': 'text/plain',
};

/** The experiment artifact key of a file: ids only, never user text. */
export function experimentArtifactKey(tenantId: string, experimentId: string, name: string): string {
  return `${tenantId}/${experimentId}/${name}`;
}

/**
 * Runs train jobs: claims the job, trains in the sandbox (tfjs or PyTorch), keeps the job row, the experiment, the
 * event bus and the webhook up to date as epochs finish, checkpoints every epoch so a lost worker costs at most one
 * epoch, and finally stores the artifacts and registers the trained model.
 */
@Injectable()
export class TrainJobService implements OnModuleInit {
  private readonly logger = new Logger(TrainJobService.name);
  private readonly running = new Map<string, AbortController>();
  private stopping = false;

  constructor(
    private readonly jobs: JobsRepository,
    private readonly experiments: ExperimentsRepository,
    private readonly models: ModelsRepository,
    private readonly datasets: DatasetsRepository,
    private readonly modelStore: ArtifactStore,
    @Inject(EXPERIMENT_STORE) private readonly experimentStore: ArtifactStore,
    @Inject(DATASET_STORE) private readonly datasetStore: ArtifactStore,
    private readonly sandbox: TrainingSandbox,
    private readonly bus: JobEventBus,
    private readonly notifier: WebhookNotifier,
    private readonly queue: QueueDriver,
    private readonly registry: JobHandlerRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly capabilities: WorkerCapabilities,
    @Optional() private readonly metrics?: QueueMetrics,
  ) {}

  onModuleInit(): void {
    this.registry.register(QUEUES.train, (payload) => this.run(payload), {
      concurrency: this.config.training.concurrency,
      interrupt: () => {
        this.stopping = true;
        for (const controller of this.running.values()) controller.abort('shutdown' satisfies StopReason);
      },
    });
  }

  /** Runs one train job to its end (or hands it back when the worker stops). Throws only when the database is unreachable. */
  async run({ jobId, tenantId }: JobPayload): Promise<void> {
    if (!(await this.jobs.markRunning(jobId, this.capabilities.info().workerId))) return;
    const job = await this.jobs.findForTenant(tenantId, jobId);
    const experiment = job && (await this.experiments.findByJob(jobId));
    if (!job || !experiment || experiment.tenantId !== tenantId) {
      await this.jobs.markFailed(jobId, { code: ERROR_CODES.internal, detail: 'the job does not belong to the tenant it was queued for, or has no experiment' });
      return;
    }
    const controller = new AbortController();
    // Taken after the worker began to stop: handed straight back.
    if (this.stopping) controller.abort('shutdown' satisfies StopReason);
    this.running.set(jobId, controller);
    try {
      await new TrainingRun(this.context(), job, experiment, controller).execute();
    } finally {
      this.running.delete(jobId);
    }
  }

  /** The repositories, stores and services a run uses. */
  private context(): RunContext {
    return {
      jobs: this.jobs,
      experiments: this.experiments,
      models: this.models,
      datasets: this.datasets,
      modelStore: this.modelStore,
      experimentStore: this.experimentStore,
      datasetStore: this.datasetStore,
      sandbox: this.sandbox,
      bus: this.bus,
      notifier: this.notifier,
      queue: this.queue,
      config: this.config,
      logger: this.logger,
      metrics: this.metrics,
    };
  }
}

interface RunContext {
  jobs: JobsRepository;
  experiments: ExperimentsRepository;
  models: ModelsRepository;
  datasets: DatasetsRepository;
  modelStore: ArtifactStore;
  experimentStore: ArtifactStore;
  datasetStore: ArtifactStore;
  sandbox: TrainingSandbox;
  bus: JobEventBus;
  notifier: WebhookNotifier;
  queue: QueueDriver;
  config: AppConfig;
  logger: Logger;
  metrics?: QueueMetrics;
}

/** The state of one attempt at one train job. */
class TrainingRun {
  private readonly input: TrainJobInput;
  private readonly epochs: number;
  private history: EpochRow[];
  private progress = 0;
  private currentEpoch: number | null = null;
  private lastWrite = 0;
  private logBytes = 0;
  private readonly logLines: string[] = [];
  /** Why the sweep's early stopping ends this trial, once it does. */
  private pruning: { epoch: number; reason: string } | null = null;

  constructor(
    private readonly c: RunContext,
    private readonly job: JobEntity,
    private readonly experiment: ExperimentEntity,
    private readonly controller: AbortController,
  ) {
    this.input = job.input as TrainJobInput;
    this.epochs = Number((this.input.plan as { epochs: number }).epochs);
    // Epochs after the last checkpoint were lost with the worker that ran them: they run again.
    this.history = (experiment.history as EpochRow[]).filter((r) => experiment.checkpointEpoch !== null && r.epoch <= experiment.checkpointEpoch);
  }

  async execute(): Promise<void> {
    const { experiments, notifier } = this.c;
    const resumed = this.history.length > 0;
    await this.loadEarlierLog();
    await experiments.update(this.experiment.id, { status: 'running', startedAt: this.experiment.startedAt ?? new Date(), history: this.history });
    await this.c.bus.publishStatus(this.job.id, 'running');
    // A job handed back by a stopping worker keeps its attempt count: the experiment's start says whether it began.
    if (this.experiment.startedAt === null) await notifier.notify(this.job, 'started', { experiment_id: this.experiment.id, total_epochs: this.epochs });
    this.note(resumed ? `attempt ${this.job.attempts}: resuming after epoch ${this.experiment.checkpointEpoch}` : `attempt ${this.job.attempts}: starting`);

    const stopWatch = await this.watchForCancel();
    const heartbeat = setInterval(() => void this.touch(), HEARTBEAT_MS);
    const timeout = setTimeout(() => this.controller.abort('timeout' satisfies StopReason), this.c.config.training.timeoutSeconds * 1000);
    heartbeat.unref();
    timeout.unref();
    try {
      const task = await this.task();
      const result = await this.c.sandbox.run(
        task,
        {
          onStarted: (info) => this.onStarted(info),
          onBatch: (p) => this.onBatch(p),
          onEpoch: (row, checkpoint) => this.onEpoch(row, checkpoint),
          onLog: (line) => this.note(line),
        },
        this.controller.signal,
      );
      await this.finish(result);
    } catch (err) {
      if (this.controller.signal.aborted && this.controller.signal.reason === 'shutdown') await this.handBack();
      else if (this.controller.signal.aborted && this.controller.signal.reason === 'pruned') await this.pruned();
      else await this.fail(this.failureOf(err));
    } finally {
      clearInterval(heartbeat);
      clearTimeout(timeout);
      await stopWatch();
    }
  }

  /** What the training process needs; throws TrainingFailedError for what makes the job impossible here. */
  private async task(): Promise<TrainTask> {
    const { config, datasets, datasetStore, experimentStore } = this.c;
    const { request, dataset } = this.input;
    let taskDataset: TrainTask['dataset'];
    if (dataset.kind === 'builtin') {
      taskDataset = { kind: 'builtin', name: dataset.name, fashionMnistDir: config.datasets.fashionMnistPath };
    } else {
      const row = await datasets.findForTenant(this.job.tenantId, dataset.id);
      const path = row && datasetStore.localPath(row.dataKey);
      if (!row || !path) throw new TrainingFailedError(ERROR_CODES.unknownDataset, `the dataset ${JSON.stringify(dataset.name)} was deleted after the job was submitted`);
      taskDataset = { kind: 'upload', name: row.name, path };
    }
    let python: string | undefined;
    if (this.input.engine === 'pytorch') {
      const found = await findPython(config.training.pythonBin);
      if (!found) throw new TrainingFailedError(ERROR_CODES.engineUnavailable, 'this worker has no Python with PyTorch (set PYTHON_BIN); the job cannot train with backend pytorch');
      python = found.bin;
    }
    let resume: Uint8Array | undefined;
    if (this.experiment.checkpointKey && this.history.length) {
      resume = await experimentStore.get(this.experiment.checkpointKey).catch(() => undefined);
      if (!resume) {
        this.note('the last checkpoint is missing; training starts over');
        this.history = [];
      }
    }
    return {
      jobId: this.job.id,
      engine: this.input.engine,
      dsl: this.input.dsl,
      autoFlatten: request.auto_flatten_output,
      trainingConfig: request.training_config ?? {},
      limits: { maxEpochs: config.training.maxEpochs, maxBatchSize: config.training.maxBatchSize },
      dataset: taskDataset,
      datasetName: dataset.kind === 'builtin' ? dataset.name : undefined,
      seed: request.seed,
      resume,
      python,
      hpo: this.input.hpo,
    };
  }

  private async onStarted(info: TaskStarted): Promise<void> {
    this.note(
      `training on ${info.backend}: ${info.trainSamples} training, ${info.validationSamples} validation and ${info.testSamples} test samples, ` +
        `${info.stepsPerEpoch} steps per epoch, epochs ${info.startEpoch}..${info.epochs}`,
    );
    await this.c.experiments.update(this.experiment.id, { computeBackend: info.backend.slice(0, 64) });
  }

  private async onBatch(p: BatchProgress): Promise<void> {
    this.currentEpoch = p.epoch;
    this.progress = this.percent(p.epoch - 1 + p.batch / p.batches);
    await this.publish({ type: 'progress', job_id: this.job.id, progress: this.progress, epoch: p.epoch, total_epochs: this.epochs, batch: p.batch, batches: p.batches, loss: p.loss, at: new Date().toISOString() });
    if (Date.now() - this.lastWrite >= PROGRESS_WRITE_MS) await this.touch();
  }

  private async onEpoch(row: EpochRow, checkpoint: Uint8Array): Promise<void> {
    const { experiments, experimentStore, notifier } = this.c;
    this.history = [...this.history.filter((r) => r.epoch !== row.epoch), row].sort((a, b) => a.epoch - b.epoch);
    this.currentEpoch = row.epoch;
    this.progress = this.percent(row.epoch);
    this.c.metrics?.observeEpoch(row.samples_per_second, row.epoch_seconds);
    const metrics = metricsOf(row);
    this.note(`epoch ${row.epoch}/${this.epochs}: ${Object.entries(metrics).map(([k, v]) => `${k}=${round(v)}`).join(' ')} (${round(row.epoch_seconds)} s, ${Math.round(row.samples_per_second)} samples/s)`);
    const checkpointKey = experimentArtifactKey(this.job.tenantId, this.experiment.id, 'checkpoint.bin');
    await experimentStore.put(checkpointKey, Buffer.from(checkpoint.buffer, checkpoint.byteOffset, checkpoint.byteLength));
    // Kept with the checkpoint, so an attempt that dies leaves its story for the next one to continue.
    await experimentStore.put(experimentArtifactKey(this.job.tenantId, this.experiment.id, 'training.log'), this.logText());
    await experiments.update(this.experiment.id, { history: this.history, checkpointKey, checkpointEpoch: row.epoch, finalMetrics: metrics, bestMetrics: bestMetrics(this.history) });
    this.lastWrite = Date.now();
    await this.c.jobs.markProgress(this.job.id, { progress: this.progress, currentEpoch: row.epoch, metrics });
    await this.publish({ type: 'epoch', job_id: this.job.id, progress: this.progress, epoch: row.epoch, total_epochs: this.epochs, metrics, at: new Date().toISOString() });
    await notifier.notify(this.job, 'progress', { experiment_id: this.experiment.id, epoch: row.epoch, total_epochs: this.epochs, progress: this.progress, metrics });
    await this.judgeRung(row);
  }

  /**
   * A sweep's trial at one of its rungs: compared with every trial of the sweep that got there (their histories), it
   * stops here unless it is among the best (successive halving). The last epoch is no rung: a trial that got there ends.
   */
  private async judgeRung(row: EpochRow): Promise<void> {
    const trial = this.input.trial;
    if (!trial?.pruning || !trial.pruning.rungs.includes(row.epoch) || row.epoch >= this.epochs || this.pruning) return;
    const value = row[trial.metric];
    if (typeof value !== 'number' || !Number.isFinite(value)) return;
    const siblings = await this.c.experiments.listBySweep(trial.sweep_id);
    const atRung: number[] = [value];
    for (const e of siblings) {
      if (e.id === this.experiment.id) continue;
      const v = (e.history as EpochRow[]).find((r) => r.epoch === row.epoch)?.[trial.metric];
      if (typeof v === 'number' && Number.isFinite(v)) atRung.push(v);
    }
    const d = rungDecision(value, atRung, trial.pruning.reduction_factor, trial.direction);
    if (d.promote) {
      this.note(`rung at epoch ${row.epoch}: ${trial.metric}=${round(value)} ranks ${d.rank} of ${atRung.length}; the best ${d.keep} go on`);
      return;
    }
    const reason = `${trial.metric}=${round(value)} after epoch ${row.epoch} ranked ${d.rank} of the ${atRung.length} trials that reached it; only the best ${d.keep} go on (successive halving, reduction factor ${trial.pruning.reduction_factor})`;
    this.pruning = { epoch: row.epoch, reason };
    this.controller.abort('pruned' satisfies StopReason);
  }

  private async finish(result: TaskResult): Promise<void> {
    for (const w of result.warnings) this.note(`warning: ${w}`);
    if (result.history.length) this.history = result.history;
    if (result.status === 'cancelled') {
      const reason = this.controller.signal.reason as StopReason | undefined;
      if (reason === 'shutdown') return this.handBack();
      if (reason === 'pruned') return this.pruned();
      if (reason === 'timeout') {
        return this.fail({ code: 'training_timeout', detail: `training took longer than ${this.c.config.training.timeoutSeconds} s (TRAINING_TIMEOUT_SECONDS) and was stopped` });
      }
      return this.cancelled();
    }
    await this.complete(result);
  }

  private async complete(result: TaskResult): Promise<void> {
    const { experiments, jobs, notifier } = this.c;
    const a = result.artifacts!;
    if (!(await experiments.findForTenant(this.job.tenantId, this.experiment.id))) return this.discardAll();
    this.note(`finished ${this.history.length} epochs${result.test ? `; test ${Object.entries(result.test).map(([k, v]) => `${k}=${round(v)}`).join(' ')}` : ''}`);
    const files: Array<[string, Uint8Array | string | null]> = [
      ['model.json', a.modelJson],
      ['weights.bin', a.weightsBin],
      ['model.onnx', a.onnx],
      ['model_tensorflow.py', a.tensorflowCode],
      ['model_pytorch.py', a.pytorchCode],
      ['weights.pt', a.stateDict],
      ['metrics.csv', historyCsv(this.history)],
    ];
    const artifacts = await this.storeArtifacts(files);
    // A sweep registers only its best trial's model, from these artifacts, when it completes.
    const modelId = this.input.trial ? null : await this.registerModel(a);
    const finalMetrics = metricsOf(this.history[this.history.length - 1]);
    const best = bestMetrics(this.history);
    const trainResult: TrainResult = {
      experiment_id: this.experiment.id,
      model_id: modelId,
      final_metrics: finalMetrics,
      best_metrics: best,
      test_metrics: result.test,
      artifacts: artifacts.map((x) => x.name),
      download_url: modelId ? `/models/${modelId}/download` : null,
    };
    if (!(await jobs.markCompleted(this.job.id, { result: trainResult, modelId }))) {
      // Cancelled while the artifacts were being written: the job says it produced nothing, so it does not.
      if (modelId) await this.discardModel(modelId);
      return this.cancelled();
    }
    await experiments.update(this.experiment.id, {
      status: 'completed',
      modelId,
      history: this.history,
      finalMetrics,
      bestMetrics: best,
      testMetrics: result.test,
      artifacts,
      checkpointKey: null,
      checkpointEpoch: null,
      completedAt: new Date(),
    });
    await this.dropCheckpoint();
    await this.c.bus.publishStatus(this.job.id, 'completed');
    await notifier.notify(this.job, 'completed', { experiment_id: this.experiment.id, model_id: modelId, final_metrics: finalMetrics, test_metrics: result.test });
  }

  /** The sweep's early stopping ended the trial: like a cancel, it keeps what was learned, and says why it stopped. */
  private async pruned(): Promise<void> {
    const p = this.pruning!;
    this.note(`pruned: ${p.reason}`);
    const done = this.history.filter((r) => r.epoch <= p.epoch);
    this.history = done;
    const finalMetrics = done.length ? metricsOf(done[done.length - 1]) : null;
    const result = { experiment_id: this.experiment.id, pruned_at_epoch: p.epoch, reason: p.reason, final_metrics: finalMetrics, best_metrics: done.length ? bestMetrics(done) : null };
    if (!(await this.c.jobs.markPruned(this.job.id, result))) return this.cancelled();
    if (!(await this.c.experiments.findForTenant(this.job.tenantId, this.experiment.id))) return this.discardAll();
    const artifacts = await this.storeSummary(done);
    await this.c.experiments.update(this.experiment.id, {
      status: 'pruned',
      history: done,
      finalMetrics,
      bestMetrics: result.best_metrics,
      artifacts,
      checkpointKey: null,
      checkpointEpoch: null,
      completedAt: new Date(),
    });
    await this.dropCheckpoint();
    await this.c.bus.publishStatus(this.job.id, 'pruned');
  }

  /** The user cancelled: keep what was learned (history, metrics, log), drop the checkpoint. */
  private async cancelled(): Promise<void> {
    this.note(`cancelled after ${this.history.length} finished epoch(s)`);
    if (!(await this.c.experiments.findForTenant(this.job.tenantId, this.experiment.id))) return this.discardAll();
    const artifacts = await this.storeSummary(this.history);
    await this.c.experiments.update(this.experiment.id, {
      status: 'cancelled',
      history: this.history,
      finalMetrics: this.history.length ? metricsOf(this.history[this.history.length - 1]) : null,
      bestMetrics: this.history.length ? bestMetrics(this.history) : null,
      artifacts,
      checkpointKey: null,
      checkpointEpoch: null,
      completedAt: new Date(),
    });
    await this.dropCheckpoint();
  }

  private async fail(error: JobError): Promise<void> {
    const { jobs, experiments, notifier } = this.c;
    this.note(`failed: ${error.detail}`);
    const failed = await jobs.markFailed(this.job.id, error);
    if (!(await experiments.findForTenant(this.job.tenantId, this.experiment.id))) return this.discardAll();
    const artifacts = await this.storeSummary(this.history);
    await experiments.update(this.experiment.id, {
      status: failed ? 'failed' : ((await jobs.findForTenant(this.job.tenantId, this.job.id))?.status ?? 'failed'),
      history: this.history,
      error,
      artifacts,
      finalMetrics: this.history.length ? metricsOf(this.history[this.history.length - 1]) : null,
      bestMetrics: this.history.length ? bestMetrics(this.history) : null,
      completedAt: new Date(),
    });
    if (!failed) return;
    await this.c.bus.publishStatus(this.job.id, 'failed');
    await notifier.notify(this.job, 'failed', { experiment_id: this.experiment.id, error: { code: error.code, message: error.detail } });
  }

  /** The worker is stopping: the job goes back to the queue and resumes from its last checkpoint on another worker. */
  private async handBack(): Promise<void> {
    const after = this.history.length ? `after epoch ${this.history[this.history.length - 1].epoch}` : 'before its first epoch';
    this.note(`the worker is stopping; the job is handed back to the queue ${after}`);
    if (await this.c.jobs.handBack(this.job.id)) {
      this.c.logger.log(`train job ${this.job.id} handed back to the queue ${after}`);
      // The reconciler enqueues it anyway should this fail (a pending row the transport does not know).
      await this.c.queue.enqueue(QUEUES.train, { jobId: this.job.id, tenantId: this.job.tenantId }, { handBack: true }).catch(() => undefined);
    }
    // The log of this attempt is kept; the next attempt appends its own.
    await this.storeArtifacts([]).catch(() => undefined);
  }

  /** Writes the files (and the training log) to the experiment store; returns every artifact of the experiment. */
  private async storeArtifacts(files: Array<[string, Uint8Array | string | null]>): Promise<ExperimentArtifact[]> {
    const { experimentStore } = this.c;
    const out: ExperimentArtifact[] = [];
    for (const [name, content] of [...files, ['training.log', this.logText()] as [string, string]]) {
      if (content === null) continue;
      const key = experimentArtifactKey(this.job.tenantId, this.experiment.id, name);
      const data = typeof content === 'string' ? content : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
      const { size } = await experimentStore.put(key, data);
      out.push({ name, key, contentType: CONTENT_TYPES[name], sizeBytes: size });
    }
    return out;
  }

  /** Registers the trained model under /models/ with its own copies of every downloadable form. */
  private registerModel(a: NonNullable<TaskResult['artifacts']>): Promise<string> {
    const summary = this.input.summary as { name?: string };
    return registerTrainedModel(this.c.models, this.c.modelStore, {
      tenantId: this.job.tenantId,
      name: summary?.name ?? this.experiment.name,
      backend: this.input.request.backend as ModelBackend,
      dsl: this.input.dsl,
      summary: this.input.summary,
      warnings: this.input.warnings,
      jobId: this.job.id,
      experimentId: this.experiment.id,
    }, a);
  }

  private async discardModel(modelId: string): Promise<void> {
    const removed = await this.c.models.delete(this.job.tenantId, modelId);
    for (const f of Object.values(removed?.formats ?? {})) await this.c.modelStore.delete(f.key).catch(() => undefined);
  }

  /** The experiment was deleted while it ran: remove whatever this run wrote for it. */
  private async discardAll(): Promise<void> {
    for (const name of [...Object.keys(CONTENT_TYPES), 'checkpoint.bin']) {
      await this.c.experimentStore.delete(experimentArtifactKey(this.job.tenantId, this.experiment.id, name)).catch(() => undefined);
    }
  }

  private async dropCheckpoint(): Promise<void> {
    await this.c.experimentStore.delete(experimentArtifactKey(this.job.tenantId, this.experiment.id, 'checkpoint.bin')).catch(() => undefined);
  }

  /** Aborts the run when the job is cancelled: told by the event bus at once, or seen on the row within seconds. */
  private async watchForCancel(): Promise<() => Promise<void>> {
    const cancel = () => this.controller.abort('cancelled' satisfies StopReason);
    const unsubscribe = await this.c.bus.subscribe(this.job.id, (e) => {
      if (e.type === 'status' && e.status === 'cancelled') cancel();
    });
    const poll = setInterval(() => {
      this.c.jobs.findForTenant(this.job.tenantId, this.job.id).then(
        (row) => {
          if (row && row.status !== 'running') cancel();
        },
        () => undefined,
      );
    }, CANCEL_POLL_MS);
    poll.unref();
    return async () => {
      clearInterval(poll);
      await unsubscribe();
    };
  }

  private async touch(): Promise<void> {
    this.lastWrite = Date.now();
    await this.c.jobs.markProgress(this.job.id, { progress: this.progress, currentEpoch: this.currentEpoch }).catch((err: unknown) => {
      this.c.logger.warn(`could not record the progress of job ${this.job.id}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  private publish(event: JobEvent): Promise<void> {
    return this.c.bus.publish(event);
  }

  /** 0..99 for `epochsDone` of the plan's epochs; 100 is for completion. */
  private percent(epochsDone: number): number {
    return Math.min(99, Math.floor((epochsDone / Math.max(1, this.epochs)) * 100));
  }

  /** The log an earlier attempt of this job left (it died, or handed the job back), continued by this one. */
  private async loadEarlierLog(): Promise<void> {
    if (this.experiment.startedAt === null) return;
    const earlier = await this.c.experimentStore.get(experimentArtifactKey(this.job.tenantId, this.experiment.id, 'training.log')).catch(() => null);
    if (!earlier) return;
    const lines = earlier.toString('utf8').split('\n').filter(Boolean);
    this.logLines.push(...lines);
    this.logBytes = lines.reduce((n, l) => n + l.length + 1, 0);
  }

  private logText(): string {
    return `${this.logLines.join('\n')}\n`;
  }

  private note(line: string): void {
    const text = `${new Date().toISOString()} ${line}`;
    if (this.logBytes + text.length > MAX_LOG_BYTES) return;
    this.logBytes += text.length + 1;
    this.logLines.push(text);
  }

  /**
   * metrics.csv and the log of a run that ends without a model. A store that cannot take them (its disk full, say)
   * must not leave the experiment half-written: the experiment still gets its final state, with the artifacts it had.
   */
  private async storeSummary(history: EpochRow[]): Promise<ExperimentArtifact[]> {
    try {
      return await this.storeArtifacts([['metrics.csv', historyCsv(history)]]);
    } catch (err) {
      this.c.logger.warn(`experiment ${this.experiment.id}: its metrics and log could not be stored (${err instanceof Error ? err.message : String(err)})`);
      return this.experiment.artifacts ?? [];
    }
  }

  private failureOf(err: unknown): JobError {
    if (err instanceof TrainingFailedError) return { code: err.code, detail: err.message };
    if ((err as { code?: string })?.code === 'ENOSPC') {
      return { code: ERROR_CODES.storageFull, detail: 'the artifact store ran out of space while writing the trained model and its files; free space (or grow the volume) and train again' };
    }
    const errorId = randomUUID();
    this.c.logger.error(`train job ${this.job.id} failed (error id ${errorId}): ${err instanceof Error ? err.message : String(err)}`, err instanceof Error ? err.stack : undefined);
    return { code: ERROR_CODES.internal, detail: `training failed unexpectedly (error id ${errorId})` };
  }
}

function round(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}
