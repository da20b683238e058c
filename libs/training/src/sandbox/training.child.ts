/**
 * A training process (see TrainingSandbox): loads tfjs once, then trains one task per `train` message, reporting
 * progress, epoch rows with checkpoints and the result over IPC. It exits when the worker goes away.
 */
import { buildTfjsModel, DslError, type HpoAssignment, emitOnnx, emitPytorch, emitTensorflow, setTfjsWeights, weightsFromTfjs, type CheckedModel } from '@app/dsl';
import { loadTfjs, prepareTraining, runTraining, saveTfjsModel, splitData, TrainingConfigError, type LoadedTfjs } from '@app/dsl/train';
import type { BatchProgress, EpochRow, TensorData, TrainingPlan } from '@app/dsl/train/types';
import { checkSampleFit, loadBuiltinDataset, loadIngestedDataset, type LoadedDataset } from '@app/datasets';
import { mkdtemp, rm } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import { PytorchTrainingError, runPytorchTraining } from '../pytorch';
import type { ChildMessage, ParentMessage, TaskFailure, TaskResult, TaskStarted, TrainTask } from './protocol';

/** Batch progress messages are at most this frequent. */
const BATCH_REPORT_MS = 250;

if (!process.send) throw new Error('training.child must run as a forked process');

const send = (msg: ChildMessage): void => {
  process.send?.(msg);
};
const controllers = new Map<string, AbortController>();
let tfjs: LoadedTfjs;

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: ParentMessage) => {
  if (msg.type === 'cancel') controllers.get(msg.jobId)?.abort();
  else if (msg.type === 'train') void train(msg.task);
});

void loadTfjs((process.env.NEURAL_TRAINING_BACKEND ?? 'auto') as Parameters<typeof loadTfjs>[0]).then(
  (loaded) => {
    tfjs = loaded;
    send({ type: 'ready', backend: loaded.backend, fallbackReason: loaded.fallbackReason });
  },
  (err: Error) => {
    process.stderr.write(`could not load tfjs: ${err.message}\n`);
    process.exit(1);
  },
);

async function train(task: TrainTask): Promise<void> {
  const controller = new AbortController();
  controllers.set(task.jobId, controller);
  try {
    const result = await runTask(task, controller.signal);
    send({ type: 'done', jobId: task.jobId, result });
  } catch (err) {
    send({ type: 'failed', jobId: task.jobId, failure: toFailure(err) });
  } finally {
    controllers.delete(task.jobId);
  }
}

async function runTask(task: TrainTask, signal: AbortSignal): Promise<TaskResult> {
  const log = (line: string) => send({ type: 'log', jobId: task.jobId, line });
  const { checked, plan } = prepareTraining(task.dsl, task.trainingConfig, task.engine, { autoFlatten: task.autoFlatten, limits: task.limits, hpo: task.hpo as HpoAssignment | undefined });
  const dataset = await loadDataset(task);
  const data = fitToModel(dataset, plan);
  const warnings = [...plan.warnings];
  let lastBatch = 0;
  const callbacks: Callbacks = {
    onStart: (info) => send({ type: 'started', jobId: task.jobId, info }),
    onBatch: (progress) => {
      const now = Date.now();
      if (now - lastBatch < BATCH_REPORT_MS && progress.batch < progress.batches) return;
      lastBatch = now;
      send({ type: 'batch', jobId: task.jobId, progress });
    },
    onEpoch: (row, checkpoint) => send({ type: 'epoch', jobId: task.jobId, row, checkpoint }),
  };

  if (task.engine === 'pytorch') return trainWithPytorch(task, checked, plan, data, signal, callbacks, log, warnings);

  const { tf } = tfjs;
  const outcome = await runTraining(
    tf,
    checked,
    plan,
    { ...data, numClasses: dataset.info.numClasses },
    {
      seed: task.seed,
      resume: task.resume,
      signal,
      onStart: (info) => callbacks.onStart({ ...info, stepsPerEpoch: info.batchesPerEpoch }),
      onBatch: callbacks.onBatch,
      onEpoch: callbacks.onEpoch,
    },
  );
  try {
    if (outcome.status === 'cancelled') return { status: 'cancelled', history: outcome.history, test: null, backend: outcome.backend, warnings };
    const saved = await saveTfjsModel(tf, outcome.model);
    return {
      status: 'completed',
      history: outcome.history,
      test: outcome.test ?? null,
      backend: outcome.backend,
      artifacts: {
        modelJson: saved.modelJson,
        weightsBin: saved.weights,
        onnx: emitOnnx(checked, { weights: weightsFromTfjs(outcome.model) }),
        ...code(checked, task, warnings),
        stateDict: null,
      },
      warnings,
    };
  } finally {
    outcome.model.dispose();
  }
}

interface Callbacks {
  onStart(info: TaskStarted): void;
  onBatch(progress: BatchProgress): void;
  onEpoch(row: EpochRow, checkpoint: Uint8Array): void;
}

async function trainWithPytorch(
  task: TrainTask,
  checked: CheckedModel,
  plan: TrainingPlan,
  data: { train: TensorData; test?: TensorData },
  signal: AbortSignal,
  callbacks: Callbacks,
  log: (line: string) => void,
  warnings: string[],
): Promise<TaskResult> {
  if (!task.python) throw new TrainingTaskError('engine_unavailable', 'no Python with PyTorch is configured on this worker (PYTHON_BIN)');
  const { tf } = tfjs;
  const pytorch = emitFor(emitPytorch, checked, task);
  if (!pytorch.code) throw new TrainingTaskError('unsupported_layer', `the model cannot be emitted for PyTorch: ${pytorch.error}`);
  const generated = code(checked, task, warnings, pytorch);
  // The same sample slice and validation split as the tfjs engine takes.
  const split = splitData(plan, { train: data.train, numClasses: null });
  const workDir = await mkdtemp(join(tmpdir(), 'neural-torch-'));
  let backend = 'torch';
  try {
    const result = await runPytorchTraining({
      python: task.python,
      moduleCode: pytorch.code,
      checked,
      plan,
      data: { train: split.train, validation: split.validation ?? undefined, test: data.test },
      workDir,
      seed: task.seed,
      resume: task.resume,
      signal,
      threads: 1,
      onStart: (info) => {
        backend = `torch ${info.torchVersion}`;
        callbacks.onStart({ ...info, backend });
      },
      onBatch: callbacks.onBatch,
      onEpoch: callbacks.onEpoch,
      onLog: log,
    });
    if (result.status === 'cancelled' || !result.weights) return { status: 'cancelled', history: result.history, test: null, backend, warnings };
    // The module reports test metrics as test_<key>; the tfjs engine as <key>.
    const test = result.test ? Object.fromEntries(Object.entries(result.test).map(([k, v]) => [k.replace(/^test_/, ''), v])) : null;
    // The trained weights, moved into the tfjs model of the same DSL: one export path for both engines.
    const model = buildTfjsModel(checked, tf);
    try {
      setTfjsWeights(model, result.weights);
      const saved = await saveTfjsModel(tf, model);
      return {
        status: 'completed',
        history: result.history,
        test,
        backend,
        artifacts: { modelJson: saved.modelJson, weightsBin: saved.weights, onnx: emitOnnx(checked, { weights: result.weights }), ...generated, stateDict: result.stateDict ?? null },
        warnings,
      };
    } finally {
      model.dispose();
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function loadDataset(task: TrainTask): Promise<LoadedDataset> {
  return task.dataset.kind === 'builtin'
    ? loadBuiltinDataset(task.dataset.name, { fashionMnistDir: task.dataset.fashionMnistDir })
    : loadIngestedDataset(task.dataset.path);
}

/** The dataset's splits viewed in the model's input shape (same buffers; only the shape differs). */
function fitToModel(dataset: LoadedDataset, plan: TrainingPlan): { train: TensorData; test?: TensorData } {
  const fit = checkSampleFit(plan.inputShape, dataset.info.sampleShape, dataset.info.name);
  if (!fit.ok) throw new TrainingTaskError('dataset_mismatch', fit.message);
  const shape = concreteShape(plan.inputShape, dataset.info.sampleShape);
  const view = (t: TensorData): TensorData => ({ ...t, sampleShape: shape });
  return { train: view(dataset.train), test: dataset.test ? view(dataset.test) : undefined };
}

/** The model's input shape with its free (-1) sizes taken from the samples. */
function concreteShape(input: number[], sample: number[]): number[] {
  if (!input.includes(-1)) return input;
  if (input.length === sample.length) return input.map((d, i) => (d === -1 ? sample[i] : d));
  const known = input.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = sample.reduce((a, b) => a * b, 1);
  return input.map((d) => (d === -1 ? total / known : d));
}

/**
 * A generated module of the trained configuration, or why the backend cannot express it. The dataset becomes the
 * script's default only when the emitter knows it (MNIST does; an upload or Iris does not).
 */
function emitFor(emitter: (c: CheckedModel, o: { dataset?: string }) => string, checked: CheckedModel, task: TrainTask): { code: string | null; error?: string } {
  for (const dataset of task.datasetName ? [task.datasetName, undefined] : [undefined]) {
    try {
      return { code: emitter(checked, { dataset }) };
    } catch (err) {
      if (!(err instanceof DslError)) throw err;
      const unknownDataset = err.diagnostics.every((d) => d.code === 'unknown_dataset');
      if (!unknownDataset || dataset === undefined) return { code: null, error: err.diagnostics[0]?.message ?? err.message };
    }
  }
  return { code: null };
}

/** Both generated modules for the artifacts; a backend that cannot express the model is noted in `warnings`. */
function code(checked: CheckedModel, task: TrainTask, warnings: string[], pytorch = emitFor(emitPytorch, checked, task)): { tensorflowCode: string | null; pytorchCode: string | null } {
  const tensorflow = emitFor(emitTensorflow, checked, task);
  if (tensorflow.error) warnings.push(`no TensorFlow code: ${tensorflow.error}`);
  if (pytorch.error) warnings.push(`no PyTorch code: ${pytorch.error}`);
  return { tensorflowCode: tensorflow.code, pytorchCode: pytorch.code };
}

/** A failure of the task itself, with a code and a sentence for the user. */
class TrainingTaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function toFailure(err: unknown): TaskFailure {
  if (err instanceof TrainingTaskError) return { code: err.code, message: err.message };
  if (err instanceof DslError) return { code: 'dsl_error', message: err.message };
  if (err instanceof TrainingConfigError) return { code: 'validation_error', message: err.message };
  if (err instanceof PytorchTrainingError) return { code: 'pytorch_failed', message: `PyTorch training failed: ${err.message}` };
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`training failed: ${err instanceof Error ? (err.stack ?? message) : message}\n`);
  if (/not registered for backend/.test(message)) return { code: 'unsupported_operation', message: `the ${tfjs?.backend ?? 'tfjs'} backend cannot run an operation this model needs (${firstLine(message)})` };
  if (/out of memory|Allocation failed/i.test(message)) return { code: 'training_out_of_memory', message: 'training ran out of memory; use a smaller model or batch size' };
  return { code: 'training_failed', message: `training failed: ${firstLine(message)}` };
}

/** One line, no paths: what a user may see of an unexpected error. */
function firstLine(message: string): string {
  return message.split('\n')[0].replace(/(\/[\w.-]+){2,}/g, '<path>').slice(0, 300);
}
