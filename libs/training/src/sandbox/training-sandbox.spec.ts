import { loadTfjsModel } from '@app/dsl/train';
import type { BatchProgress, EpochRow } from '@app/dsl/train/types';
import { DEFAULT_FASHION_MNIST_DIR } from '@app/datasets';
import * as tf from '@tensorflow/tfjs';
import { runOnnx } from '../../../testing/src/onnx-runner';
import { findPython } from '../pytorch';
import type { TaskStarted, TrainTask } from './protocol';
import { TrainingFailedError, TrainingSandbox } from './training-sandbox';

const IRIS = `network IrisNet {
  input: (4,)
  layers:
    Dense(units=16, activation="relu")
    Output(units=3, activation="softmax")
  loss: "sparse_categorical_crossentropy"
  optimizer: Adam(learning_rate=0.05)
  metrics: ["accuracy"]
}`;

const MNIST_CONV = 'Model Digits {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=8, kernel_size=3, activation=relu)\n  MaxPooling2D(pool_size=2)\n  Dense(units=10, activation=softmax)\n}';

let nextJob = 0;
function task(overrides: Partial<TrainTask> = {}): TrainTask {
  return {
    jobId: `job-${++nextJob}`,
    engine: 'tfjs',
    dsl: IRIS,
    trainingConfig: { epochs: 30, batch_size: 16, validation_split: 0 },
    limits: { maxEpochs: 1000, maxBatchSize: 4096 },
    dataset: { kind: 'builtin', name: 'Iris', fashionMnistDir: DEFAULT_FASHION_MNIST_DIR },
    seed: 7,
    ...overrides,
  };
}

function recorder() {
  const seen = { started: [] as TaskStarted[], batches: [] as BatchProgress[], epochs: [] as EpochRow[], checkpoints: [] as Uint8Array[] };
  return {
    seen,
    handlers: {
      onStarted: (info: TaskStarted) => void seen.started.push(info),
      onBatch: (p: BatchProgress) => void seen.batches.push(p),
      onEpoch: (row: EpochRow, c: Uint8Array) => {
        seen.epochs.push(row);
        seen.checkpoints.push(c);
      },
    },
  };
}

describe('TrainingSandbox (real training processes)', () => {
  let sandbox: TrainingSandbox;

  beforeAll(() => {
    sandbox = new TrainingSandbox({ processes: 1, maxHeapMb: 2048, backend: 'auto', cancelGraceMs: 3000 });
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it('loads the best tfjs backend in a child process and reports it', async () => {
    expect(await sandbox.warmUp()).toBe('wasm');
    expect(sandbox.backend).toBe('wasm');
    expect(sandbox.processCount).toBe(1);
  });

  it('trains Iris to well above chance and returns the model in tfjs and ONNX form, with the generated code', async () => {
    const { seen, handlers } = recorder();
    const result = await sandbox.run(task(), handlers);
    expect(result.status).toBe('completed');
    expect(seen.started[0]).toMatchObject({ backend: 'wasm', startEpoch: 1, epochs: 30, trainSamples: 120, testSamples: 30 });
    expect(seen.epochs.map((r) => r.epoch)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(result.history).toEqual(seen.epochs);
    expect(seen.batches.length).toBeGreaterThan(0);
    expect(result.history[29].accuracy).toBeGreaterThan(0.85);
    expect(result.test!.accuracy).toBeGreaterThan(0.8);
    const a = result.artifacts!;
    expect(a.tensorflowCode).toContain('def build_model(');
    expect(a.pytorchCode).toContain('import torch');
    // The tfjs artifacts and the ONNX file hold the same trained weights.
    const model = await loadTfjsModel(tf, a.modelJson, a.weightsBin);
    const x = Float32Array.from({ length: 8 }, (_, i) => (i % 4) - 1.5);
    const expected = (model.predict(tf.tensor2d(x, [2, 4])) as tf.Tensor).dataSync();
    const got = runOnnx([{ id: 'iris', bytes: a.onnx, inputs: { input: { dims: [2, 4], data: x } } }]).iris;
    expect(got.error).toBeUndefined();
    expect(got.data).toHaveLength(expected.length);
    for (let i = 0; i < expected.length; i++) expect(Math.abs(got.data[i] - expected[i])).toBeLessThan(1e-4);
  });

  it('is deterministic with a seed, and resumes from an epoch checkpoint to the same result', async () => {
    const full = await sandbox.run(task({ trainingConfig: { epochs: 6, batch_size: 16, validation_split: 0.2 } }), {});
    const first = recorder();
    const cut = new AbortController();
    const partial = await sandbox.run(task({ trainingConfig: { epochs: 6, batch_size: 16, validation_split: 0.2 } }), {
      ...first.handlers,
      onEpoch: (row, c) => {
        first.handlers.onEpoch(row, c);
        if (row.epoch === 2) cut.abort();
      },
    }, cut.signal);
    expect(partial.status).toBe('cancelled');
    const resumed = await sandbox.run(task({ trainingConfig: { epochs: 6, batch_size: 16, validation_split: 0.2 }, resume: first.seen.checkpoints[1] }), {});
    expect(resumed.status).toBe('completed');
    const metrics = (h: EpochRow[]) => h.map(({ epoch, loss, accuracy, val_loss, val_accuracy }) => ({ epoch, loss, accuracy, val_loss, val_accuracy }));
    expect(metrics(resumed.history)).toEqual(metrics(full.history));
  });

  it('trains the seed convnet on a slice of real MNIST', async () => {
    const result = await sandbox.run(task({ dsl: MNIST_CONV, dataset: { kind: 'builtin', name: 'MNIST', fashionMnistDir: DEFAULT_FASHION_MNIST_DIR }, trainingConfig: { epochs: 2, batch_size: 32, train_samples: 2000, validation_split: 0.1 } }), {});
    expect(result.status).toBe('completed');
    expect(result.history[1].val_accuracy).toBeGreaterThan(0.7);
    expect(result.test!.accuracy).toBeGreaterThan(0.7);
  });

  it('stops within a batch when cancelled and keeps the finished epochs', async () => {
    const { seen, handlers } = recorder();
    const controller = new AbortController();
    let cancelledAt = 0;
    const run = sandbox.run(task({ dsl: MNIST_CONV, dataset: { kind: 'builtin', name: 'MNIST', fashionMnistDir: DEFAULT_FASHION_MNIST_DIR }, trainingConfig: { epochs: 50, batch_size: 32, train_samples: 3000 } }), {
      ...handlers,
      onEpoch: (row, c) => {
        handlers.onEpoch(row, c);
        if (row.epoch === 1) {
          cancelledAt = Date.now();
          controller.abort();
        }
      },
    }, controller.signal);
    const result = await run;
    expect(result.status).toBe('cancelled');
    expect(Date.now() - cancelledAt).toBeLessThan(2000);
    expect(result.history.map((r) => r.epoch)).toEqual([1]);
    expect(seen.epochs).toHaveLength(1);
  });

  it('fails a run whose process dies, and serves the next run from a new process', async () => {
    const killer = setInterval(() => {
      const slot = [...(sandbox as unknown as { slots: Set<{ child: { kill(s: string): void }; running?: unknown }> }).slots].find((s) => s.running);
      slot?.child.kill('SIGKILL');
    }, 300);
    const err = await sandbox.run(task({ trainingConfig: { epochs: 1000, batch_size: 4 } }), {}).catch((e: unknown) => e);
    clearInterval(killer);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect((err as TrainingFailedError).code).toBe('training_crashed');
    const next = await sandbox.run(task({ trainingConfig: { epochs: 2, batch_size: 16 } }), {});
    expect(next.status).toBe('completed');
  });

  it('reports a training that cannot run as a failure with a reason, not a crash', async () => {
    const err = await sandbox.run(task({ dataset: { kind: 'upload', name: 'gone', path: '/nonexistent/data.nds' } }), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect((err as TrainingFailedError).message).not.toMatch(/\n|at .*\.ts/);
  });

  it('trains with PyTorch by running the generated module, with the same progress and artifacts', async () => {
    const python = await findPython();
    expect(python).not.toBeNull();
    const { seen, handlers } = recorder();
    const result = await sandbox.run(task({ engine: 'pytorch', python: python!.bin, trainingConfig: { epochs: 20, batch_size: 16, validation_split: 0.2 } }), handlers);
    expect(result.status).toBe('completed');
    expect(result.backend).toMatch(/^torch /);
    expect(seen.started[0]).toMatchObject({ startEpoch: 1, epochs: 20, trainSamples: 96, validationSamples: 24, testSamples: 30 });
    expect(seen.epochs).toHaveLength(20);
    expect(Object.keys(seen.epochs[0])).toEqual(expect.arrayContaining(['loss', 'accuracy', 'val_loss', 'val_accuracy', 'epoch_seconds', 'samples_per_second']));
    expect(result.history[19].accuracy).toBeGreaterThan(0.8);
    expect(result.test!.accuracy).toBeGreaterThan(0.75);
    expect(result.artifacts!.stateDict!.length).toBeGreaterThan(100);
    // The PyTorch-trained weights, moved to tfjs and ONNX, still classify like the trained model.
    const model = await loadTfjsModel(tf, result.artifacts!.modelJson, result.artifacts!.weightsBin);
    expect(model.countParams()).toBe(16 * 4 + 16 + 3 * 16 + 3);
  });
});
