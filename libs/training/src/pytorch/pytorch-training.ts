import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CheckedModel } from '@app/dsl';
import type { KerasWeights } from '@app/dsl/emit/weights';
import type { BatchProgress, EpochRow, TensorData, TrainingPlan } from '@app/dsl/train/types';
import { writeNpy } from './npy';
import { torchWeightManifest, type TorchWeightEntry } from './weight-manifest';

/** What the driver reports once the data is loaded and the model built. */
export interface PytorchStartInfo {
  /** 1, or the epoch after the resumed checkpoint's. */
  startEpoch: number;
  epochs: number;
  stepsPerEpoch: number;
  trainSamples: number;
  validationSamples: number;
  testSamples: number;
  torchVersion: string;
  threads: number;
}

export interface PytorchTrainingOptions {
  /** The interpreter to run, e.g. `(await findPython(PYTHON_BIN)).bin`. */
  python: string;
  /** The module `emitPytorch` generated for `checked`. */
  moduleCode: string;
  checked: CheckedModel;
  /** Used for epochs, batch size, learning rate (passed only when the plan has no schedule) and seed. */
  plan: TrainingPlan;
  data: { train: TensorData; validation?: TensorData; test?: TensorData };
  /** An empty directory owned by the caller; the module, data, checkpoints and weights are written here. */
  workDir: string;
  /** Seeds Python, numpy and torch, and each epoch's shuffle; defaults to a numeric `plan.hyperparameters.seed`. */
  seed?: number;
  /** Checkpoint bytes an earlier run of the same module passed to `onEpoch`: training continues after that epoch. */
  resume?: Uint8Array;
  /** torch intra-op threads (default 1: one training job per core). */
  threads?: number;
  /** Aborting stops the run (SIGTERM, then SIGKILL after 5 s); the promise resolves with status `cancelled`. */
  signal?: AbortSignal;
  /** Minimum time between batch events (default 250 ms). */
  progressIntervalMs?: number;
  onStart?(info: PytorchStartInfo): void;
  onBatch?(progress: BatchProgress): void;
  /** After every epoch, with the checkpoint to resume from. The run waits for a returned promise. */
  onEpoch?(row: EpochRow, checkpoint: Uint8Array): void | Promise<void>;
  /** Every stderr line and every stdout line that is not part of the protocol. */
  onLog?(line: string): void;
}

export interface PytorchTrainingResult {
  status: 'completed' | 'cancelled';
  /** Every epoch once, including those of a resumed checkpoint. */
  history: EpochRow[];
  /** `test_loss`, `test_<metric>` when test data was given and the run completed. */
  test?: Record<string, number>;
  /** The trained weights in the Keras layout (completed runs). */
  weights?: KerasWeights;
  /** `torch.save(model.state_dict())` bytes (completed runs). */
  stateDict?: Uint8Array;
  /** The end of the driver's stderr and non-protocol stdout. */
  log: string;
}

export type PytorchTrainingErrorCode =
  | 'invalid_arguments'
  | 'invalid_module'
  | 'invalid_data'
  | 'invalid_checkpoint'
  | 'torch_missing'
  | 'out_of_memory'
  | 'training_failed'
  | 'internal'
  | 'process_failed'
  | 'spawn_failed';

/**
 * A training run that failed. `message` is one line for a person (never a traceback or a file path); `log` holds the
 * driver's stderr tail for the operator.
 */
export class PytorchTrainingError extends Error {
  override readonly name = 'PytorchTrainingError';

  constructor(
    readonly code: PytorchTrainingErrorCode,
    message: string,
    readonly log: string,
    readonly exitCode: number | null = null,
  ) {
    super(message);
  }
}

const LOG_LIMIT = 64 * 1024;
const KILL_GRACE_MS = 5_000;
const DRIVER_CODES = new Set<string>(['invalid_arguments', 'invalid_module', 'invalid_data', 'invalid_checkpoint', 'torch_missing', 'out_of_memory', 'training_failed', 'internal']);

/** `libs/training/python/torch_train.py`, from the sources or from a build under `dist/`. */
export function torchDriverPath(): string {
  const candidates = [join(__dirname, '..', '..', 'python', 'torch_train.py'), join(__dirname, '..', '..', '..', '..', '..', 'libs', 'training', 'python', 'torch_train.py')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error('torch_train.py is missing: ship libs/training/python with the build');
  return found;
}

/** The last `LOG_LIMIT` characters of the driver's output. */
class LogTail {
  private text = '';

  add(line: string): void {
    this.text += line + '\n';
    if (this.text.length > LOG_LIMIT * 2) this.text = this.text.slice(-LOG_LIMIT);
  }

  toString(): string {
    return this.text.slice(-LOG_LIMIT);
  }
}

type DriverEvent = { type: string; [key: string]: unknown };

/**
 * Trains `checked` with PyTorch by running its generated module under `torch_train.py` in a child process: writes the
 * module and the data (`.npy`) into `workDir`, reports start, batch progress (running mean loss) and epochs (with
 * their checkpoint bytes) through the callbacks, and returns the history, test metrics and trained weights (Keras
 * layout and torch state_dict). Resolves `cancelled` with the epochs finished so far when `signal` aborts; rejects
 * with `PytorchTrainingError` when the driver fails, or with a callback's own error (after stopping the driver).
 */
export async function runPytorchTraining(opts: PytorchTrainingOptions): Promise<PytorchTrainingResult> {
  const { workDir, plan } = opts;
  if (opts.signal?.aborted) return { status: 'cancelled', history: [], log: '' };
  const dataDir = join(workDir, 'data');
  const outDir = join(workDir, 'out');
  await mkdir(dataDir, { recursive: true });
  await mkdir(outDir, { recursive: true });
  const modulePath = join(workDir, 'model.py');
  await writeFile(modulePath, opts.moduleCode);
  await writeSplit(dataDir, 'train', opts.data.train);
  if (opts.data.validation) await writeSplit(dataDir, 'val', opts.data.validation);
  if (opts.data.test) await writeSplit(dataDir, 'test', opts.data.test);
  const manifest = torchWeightManifest(opts.checked);
  const manifestPath = join(workDir, 'weights-manifest.json');
  await writeFile(manifestPath, JSON.stringify({ entries: manifest }));

  const threads = opts.threads ?? 1;
  const seed = opts.seed ?? (typeof plan.hyperparameters.seed === 'number' ? plan.hyperparameters.seed : undefined);
  const args = [torchDriverPath(), '--module', modulePath, '--data-dir', dataDir, '--out-dir', outDir, '--epochs', String(plan.epochs), '--batch-size', String(plan.batchSize), '--threads', String(threads), '--weights-manifest', manifestPath];
  // With a schedule the module's make_scheduler drives the rate; --learning-rate would replace the schedule.
  if (!plan.schedule) args.push('--learning-rate', String(plan.optimizer.learningRate));
  if (seed !== undefined) args.push('--seed', String(seed));
  if (opts.progressIntervalMs !== undefined) args.push('--progress-interval', String(opts.progressIntervalMs / 1000));
  if (opts.resume) {
    const resumePath = join(workDir, 'resume.pt');
    await writeFile(resumePath, opts.resume);
    args.push('--resume', resumePath);
  }
  return drive(opts, args, outDir, manifest, threads);
}

/** Environment for the driver: only what Python and torch need, so the worker's credentials never reach it. */
function driverEnv(threads: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'LD_LIBRARY_PATH', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'CUDA_VISIBLE_DEVICES']) {
    if (process.env[key] !== undefined) env[key] = process.env[key];
  }
  return {
    ...env,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONIOENCODING: 'utf-8',
    OMP_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
    // OpenBLAS threads fight torch's own (measured: 2.2x slower when both are on), so torch alone parallelises.
    OPENBLAS_NUM_THREADS: '1',
    TORCH_TRAIN_PARENT_PID: String(process.pid),
  };
}

function drive(opts: PytorchTrainingOptions, args: string[], outDir: string, manifest: TorchWeightEntry[], threads: number): Promise<PytorchTrainingResult> {
  return new Promise((resolve, reject) => {
    const log = new LogTail();
    const history: EpochRow[] = [];
    let test: Record<string, number> | undefined;
    let weightsEvent: DriverEvent | undefined;
    let errorEvent: DriverEvent | undefined;
    let sawDone = false;
    let sawCancelled = false;
    let cancelRequested = false;
    let callbackError: unknown;
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;
    let queue = Promise.resolve();

    const child = spawn(opts.python, args, { cwd: opts.workDir, env: driverEnv(threads), stdio: ['ignore', 'pipe', 'pipe'] });

    const stop = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    const onAbort = (): void => {
      cancelRequested = true;
      stop();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();

    const logLine = (line: string): void => {
      log.add(line);
      opts.onLog?.(line);
    };

    const handle = async (ev: DriverEvent): Promise<void> => {
      switch (ev.type) {
        case 'start': {
          for (const h of (ev.history as DriverEvent[] | undefined) ?? []) history.push(epochRow(h));
          opts.onStart?.({
            startEpoch: ev.start_epoch as number,
            epochs: ev.epochs as number,
            stepsPerEpoch: ev.steps_per_epoch as number,
            trainSamples: ev.train_samples as number,
            validationSamples: ev.validation_samples as number,
            testSamples: ev.test_samples as number,
            torchVersion: ev.torch as string,
            threads: ev.threads as number,
          });
          break;
        }
        case 'batch':
          opts.onBatch?.({ epoch: ev.epoch as number, batch: ev.batch as number, batches: ev.batches as number, loss: numberOf(ev.loss) });
          break;
        case 'epoch': {
          const row = epochRow(ev);
          history.push(row);
          // Only files of our own output directory are read, whatever the line says.
          const path = join(outDir, basename(String(ev.checkpoint)));
          const bytes = await readFile(path);
          await opts.onEpoch?.(row, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          await unlink(path).catch(() => undefined);
          break;
        }
        case 'test':
          test = Object.fromEntries(Object.entries(ev.metrics as Record<string, unknown>).map(([k, v]) => [k, numberOf(v)]));
          break;
        case 'weights':
          weightsEvent = ev;
          break;
        case 'done':
          sawDone = true;
          break;
        case 'cancelled':
          sawCancelled = true;
          break;
        case 'error':
          errorEvent = ev;
          break;
      }
    };

    const onStdout = (line: string): void => {
      const ev = parseEvent(line);
      if (!ev) {
        if (line.trim()) logLine(line);
        return;
      }
      queue = queue.then(async () => {
        if (callbackError !== undefined) return;
        try {
          await handle(ev);
        } catch (e) {
          callbackError = e;
          stop();
        }
      });
    };
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', onStdout);
    createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', logLine);

    const finish = (fn: () => Promise<PytorchTrainingResult>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn().then(resolve, reject);
    };

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return;
      finish(async () => {
        throw new PytorchTrainingError('spawn_failed', `The Python interpreter for PyTorch training could not be started (${err.code ?? 'error'})`, log.toString());
      });
    });

    child.on('close', (code, signal) => {
      finish(async () => {
        await queue;
        if (callbackError !== undefined) throw callbackError;
        if ((cancelRequested || sawCancelled) && !sawDone) return { status: 'cancelled', history, test, log: log.toString() };
        if (code === 0 && sawDone) {
          const result: PytorchTrainingResult = { status: 'completed', history, test, log: log.toString() };
          if (weightsEvent) await readWeights(weightsEvent, outDir, manifest, result);
          return result;
        }
        if (errorEvent) {
          const c = String(errorEvent.code);
          throw new PytorchTrainingError(DRIVER_CODES.has(c) ? (c as PytorchTrainingErrorCode) : 'training_failed', oneLine(String(errorEvent.message)), log.toString(), code);
        }
        const how = signal ? `was killed by ${signal}` : `exited with code ${code} without reporting an error`;
        throw new PytorchTrainingError('process_failed', `The PyTorch training process ${how}`, log.toString(), code);
      });
    });
  });
}

async function readWeights(ev: DriverEvent, outDir: string, manifest: TorchWeightEntry[], result: PytorchTrainingResult): Promise<void> {
  const stateDict = await readFile(join(outDir, basename(String(ev.state_dict))));
  result.stateDict = new Uint8Array(stateDict.buffer, stateDict.byteOffset, stateDict.byteLength);
  if (typeof ev.path !== 'string' || typeof ev.blob !== 'string') return;
  const entries = JSON.parse(await readFile(join(outDir, basename(ev.path)), 'utf8')) as { key: string; tensors: { shape: number[]; offset: number; size: number }[] }[];
  const blob = await readFile(join(outDir, basename(ev.blob)));
  const weights: KerasWeights = {};
  for (const e of entries) {
    weights[e.key] = e.tensors.map((t) => {
      const start = blob.byteOffset + t.offset * 4;
      // A copy: readFile's buffer need not be 4-byte aligned for a Float32Array view.
      return { shape: t.shape, data: new Float32Array(blob.buffer.slice(start, start + t.size * 4)) };
    });
  }
  for (const m of manifest) {
    const got = weights[m.key]?.map((t) => t.shape.join('x')).join(',');
    if (got !== m.shapes.map((s) => s.join('x')).join(',')) {
      throw new PytorchTrainingError('internal', `The exported weights of layer '${m.key}' do not have the Keras shapes`, '');
    }
  }
  result.weights = weights;
}

async function writeSplit(dir: string, split: string, d: TensorData): Promise<void> {
  const per = d.sampleShape.reduce((a, b) => a * b, 1);
  if (d.x.length !== d.count * per) {
    throw new PytorchTrainingError('invalid_data', `The ${split} data has ${d.x.length} values, expected ${d.count} samples of ${per}`, '');
  }
  const labelSize = d.labelShape.reduce((a, b) => a * b, 1);
  if (d.y.length !== d.count * labelSize) {
    throw new PytorchTrainingError('invalid_data', `The ${split} labels have ${d.y.length} values, expected ${d.count * labelSize}`, '');
  }
  await writeNpy(join(dir, `x_${split}.npy`), d.x, [d.count, ...d.sampleShape]);
  // Class indices go over as int64, the dtype torch's losses index with.
  const y = d.y instanceof Int32Array ? BigInt64Array.from(d.y, (v) => BigInt(v)) : d.y;
  await writeNpy(join(dir, `y_${split}.npy`), y, [d.count, ...d.labelShape]);
}

function parseEvent(line: string): DriverEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === 'object' && typeof (v as DriverEvent).type === 'string' ? (v as DriverEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** The driver writes null for NaN and infinities. */
function numberOf(v: unknown): number {
  return typeof v === 'number' ? v : NaN;
}

function epochRow(ev: DriverEvent): EpochRow {
  const metrics = Object.fromEntries(Object.entries((ev.metrics as Record<string, unknown>) ?? {}).map(([k, v]) => [k, numberOf(v)]));
  return {
    epoch: ev.epoch as number,
    ...metrics,
    loss: numberOf((ev.metrics as Record<string, unknown>)?.loss),
    epoch_seconds: numberOf(ev.epoch_seconds),
    samples_per_second: numberOf(ev.samples_per_second),
    learning_rate: numberOf(ev.learning_rate),
  };
}

function oneLine(message: string): string {
  const line = message.split('\n')[0].trim();
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}
