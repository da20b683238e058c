import type * as Tfjs from '@tensorflow/tfjs';
import { analyze } from '../index';
import { mulberry32 } from '../random';
import { loadTfjs } from './backend';
import { decodeCheckpoint } from './checkpoint';
import { planTraining } from './plan';
import { evaluate, runTraining } from './run';
import { scheduleAt } from './optimizers';
import type { EpochRow, TensorData, TrainData, TrainingPlan } from './types';

let tf: typeof Tfjs;

beforeAll(async () => {
  tf = (await loadTfjs('wasm')).tf;
});

function setup(src: string, change: Partial<TrainingPlan> = {}) {
  const { checked } = analyze(src);
  return { checked, plan: { ...planTraining(checked, 'tfjs'), ...change } };
}

/** Three 2-D Gaussian blobs, classes interleaved so every split holds all three. */
function blobs(n: number, seed: number): TensorData {
  const random = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const centers = [[0, 0], [3, 3], [-3, 3]];
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    x[2 * i] = centers[y[i]][0] + 0.7 * normal();
    x[2 * i + 1] = centers[y[i]][1] + 0.7 * normal();
  }
  return { x, y, count: n, sampleShape: [2], labelShape: [] };
}

/** 8×8 images: a horizontal bar (class 0) or a vertical bar (class 1) at a random place, plus noise. */
function bars(n: number, seed: number): TensorData {
  const random = mulberry32(seed);
  const x = new Float32Array(n * 64);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    const at = Math.floor(random() * 8);
    for (let p = 0; p < 64; p++) {
      const [r, c] = [Math.floor(p / 8), p % 8];
      x[i * 64 + p] = 0.2 * random() + ((y[i] === 0 ? r : c) === at ? 1 : 0);
    }
  }
  return { x, y, count: n, sampleShape: [8, 8, 1], labelShape: [] };
}

const BLOBS = `network Blobs {
  input: (2,)
  layers:
    Dense(16, "relu")
    Dropout(0.2)
    BatchNormalization()
    GaussianNoise(0.05)
    Output(3)
  optimizer: SGD(learning_rate=ExponentialDecay(0.1, 10, 0.8), momentum=0.9, clipnorm=5)
  train { epochs: 3, batch_size: 16, validation_split: 0.25 }
}`;

const timing = (rows: EpochRow[]) => rows.map(({ epoch_seconds: _s, samples_per_second: _r, ...rest }) => rest);
const weights = (model: Tfjs.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));
const data = (train: TensorData, extra: Partial<TrainData> = {}): TrainData => ({ train, numClasses: 3, ...extra });

describe('runTraining', () => {
  it('learns 2-D Gaussian blobs well above chance, with Keras history rows', async () => {
    const { checked, plan } = setup(BLOBS, { epochs: 5 });
    const rows: EpochRow[] = [];
    const info: unknown[] = [];
    const out = await runTraining(tf, checked, plan, data(blobs(240, 1)), { seed: 1, onStart: (i) => void info.push(i), onEpoch: (row) => void rows.push(row) });
    expect(out.status).toBe('completed');
    expect(out.backend).toBe('wasm');
    expect(info).toEqual([{ backend: 'wasm', startEpoch: 1, epochs: 5, trainSamples: 180, validationSamples: 60, testSamples: 0, batchesPerEpoch: 12, parameters: out.model.countParams() }]);
    expect(out.history).toEqual(rows);
    const last = out.history[4];
    expect(last.val_accuracy).toBeGreaterThan(0.9);
    expect(last.loss).toBeLessThan(out.history[0].loss);
    expect(Object.keys(last)).toEqual(['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'epoch_seconds', 'samples_per_second', 'learning_rate']);
    expect(last.samples_per_second).toBeCloseTo(180 / last.epoch_seconds, 6);
    // The rate of the epoch's last step: 12 steps per epoch, ExponentialDecay(0.1, 10, 0.8) at step 59.
    expect(last.learning_rate).toBeCloseTo(scheduleAt(plan.schedule!, 12 * 5 - 1), 12);
    out.model.dispose();
  });

  it('trains a small convnet on wasm with the gradient shims', async () => {
    const { checked, plan } = setup(
      'network Bars { input: (8, 8, 1) layers: Conv2D(4, 3, "relu") MaxPooling2D(2) Flatten() Output(2) loss: sparse_categorical_crossentropy optimizer: Adam(learning_rate=0.02) train { epochs: 6, batch_size: 16 } }',
    );
    const out = await runTraining(tf, checked, plan, { train: bars(160, 2), test: bars(40, 3), numClasses: 2 }, { seed: 2 });
    expect(out.history[5].val_accuracy).toBeGreaterThan(0.9);
    expect(out.test!.accuracy).toBeGreaterThan(0.9);
    expect(Object.keys(out.test!)).toEqual(['loss', 'accuracy']);
    out.model.dispose();
  });

  it('is reproducible with a seed (dropout, noise, shuffling, initial weights), and a different seed differs', async () => {
    const { checked, plan } = setup(BLOBS);
    const run = (seed: number) => runTraining(tf, checked, plan, data(blobs(96, 4)), { seed });
    const [a, b, c] = [await run(7), await run(7), await run(8)];
    expect(timing(a.history)).toEqual(timing(b.history));
    expect(weights(a.model)).toEqual(weights(b.model));
    expect(weights(a.model)).not.toEqual(weights(c.model));
    for (const o of [a, b, c]) o.model.dispose();
  });

  it('resumes from a checkpoint exactly as if it had not stopped: 1 epoch + 2 resumed = 3 in one go', async () => {
    const { checked, plan } = setup(BLOBS);
    const checkpoints: Uint8Array[] = [];
    const whole = await runTraining(tf, checked, plan, data(blobs(96, 5)), { seed: 3, onEpoch: (_row, c) => void checkpoints.push(c) });
    const c1 = decodeCheckpoint(checkpoints[0]);
    expect(c1.epoch).toBe(1);
    expect(c1.weights.map((w) => w.name)).toContain('batch_normalization_1/moving_mean');
    expect(c1.optimizer).toMatchObject({ type: 'SGD', iterations: 5 });
    const resumed = await runTraining(tf, checked, plan, data(blobs(96, 5)), { resume: checkpoints[0] });
    expect(resumed.startEpoch).toBe(2);
    expect(resumed.history.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(timing(resumed.history)).toEqual(timing(whole.history));
    // Bit for bit: the same steps on the same values in the same order.
    expect(weights(resumed.model)).toEqual(weights(whole.model));
    whole.model.dispose();
    resumed.model.dispose();
  });

  it("refuses another model's or plan's checkpoint, and bytes that are not a checkpoint", async () => {
    const { checked, plan } = setup(BLOBS, { epochs: 1 });
    let checkpoint: Uint8Array | undefined;
    const out = await runTraining(tf, checked, plan, data(blobs(48, 6)), { seed: 1, onEpoch: (_r, c) => void (checkpoint = c) });
    out.model.dispose();
    await expect(runTraining(tf, checked, { ...plan, batchSize: 8 }, data(blobs(48, 6)), { resume: checkpoint })).rejects.toThrow(/written for another model or training plan/);
    const other = setup(BLOBS.replace('Dense(16', 'Dense(17'));
    await expect(runTraining(tf, other.checked, other.plan, data(blobs(48, 6)), { resume: checkpoint })).rejects.toThrow(/another model or training plan/);
    await expect(runTraining(tf, checked, plan, data(blobs(48, 6)), { resume: checkpoint!.subarray(0, 100) })).rejects.toThrow(/Truncated checkpoint/);
    await expect(runTraining(tf, checked, plan, data(blobs(48, 6)), { resume: new Uint8Array(20) })).rejects.toThrow(/Not a training checkpoint/);
  });

  it('stops after the batch during which it was cancelled, keeping the finished epochs', async () => {
    const { checked, plan } = setup(BLOBS);
    const controller = new AbortController();
    const out = await runTraining(tf, checked, plan, data(blobs(96, 7)), {
      seed: 1,
      signal: controller.signal,
      onBatch: (p) => {
        if (p.epoch === 2 && p.batch === 2) controller.abort();
      },
    });
    expect(out.status).toBe('cancelled');
    expect(out.history.map((r) => r.epoch)).toEqual([1]);
    out.model.dispose();
    // An abort from elsewhere in the event loop gets through too: the loop yields after every batch.
    const later = new AbortController();
    const seen: number[] = [];
    const out2 = await runTraining(tf, checked, { ...plan, batchSize: 4 }, data(blobs(96, 7)), {
      signal: later.signal,
      onStart: () => void setImmediate(() => later.abort()),
      onBatch: (p) => void seen.push(p.batch),
    });
    expect(out2.status).toBe('cancelled');
    expect(out2.history).toEqual([]);
    expect(seen.length).toBeLessThan(3);
    out2.model.dispose();
  });

  it('lets the event loop run during validation and the test pass: an epoch’s callback work goes out, and a cancel stops the test pass', async () => {
    const { checked, plan } = setup(BLOBS, { epochs: 1, batchSize: 8 });
    const controller = new AbortController();
    let turnsDuringTest = 0;
    const out = await runTraining(tf, checked, plan, { train: blobs(96, 8), test: blobs(4000, 9), numClasses: 3 }, {
      signal: controller.signal,
      onEpoch: () => {
        // Work scheduled by the last epoch's callback (an IPC send, a cancel arriving) runs while the test pass goes on.
        const tick = () => {
          turnsDuringTest++;
          if (turnsDuringTest === 5) controller.abort();
          else setImmediate(tick);
        };
        setImmediate(tick);
      },
    });
    expect(turnsDuringTest).toBe(5);
    expect(out.status).toBe('cancelled');
    expect(out.history).toHaveLength(1);
    expect(out.test).toBeUndefined();
    out.model.dispose();
  });

  it('does not grow numTensors with the number of batches, and frees everything with the model', async () => {
    const { checked, plan } = setup(BLOBS, { epochs: 4, batchSize: 8 });
    const base = tf.memory().numTensors;
    const counts: number[] = [];
    const out = await runTraining(tf, checked, plan, data(blobs(96, 8)), { seed: 1, onEpoch: () => void counts.push(tf.memory().numTensors) });
    expect(new Set(counts).size).toBe(1);
    out.model.dispose();
    expect(tf.memory().numTensors).toBe(base);
  });

  it('carves train_samples first, then the last validation fraction before shuffling; or takes data.validation', async () => {
    const { checked, plan } = setup(BLOBS, { epochs: 1, trainSamples: 40, validationSplit: 0.25 });
    const all = blobs(96, 9);
    const info: { trainSamples: number; validationSamples: number }[] = [];
    const out = await runTraining(tf, checked, plan, data(all), { seed: 1, onStart: (i) => void info.push(i) });
    expect(info[0]).toMatchObject({ trainSamples: 30, validationSamples: 10 });
    // Validation = samples 30..39, in inference mode, after the epoch.
    const held: TensorData = { ...all, x: all.x.slice(60, 80), y: all.y.slice(30, 40), count: 10 };
    const direct = await evaluate(tf, out.model, plan, held);
    expect(out.history[0].val_loss).toBe(direct.loss);
    expect(out.history[0].val_accuracy).toBe(direct.accuracy);
    out.model.dispose();
    const given = await runTraining(tf, checked, plan, data(all, { validation: blobs(12, 10) }), { seed: 1, onStart: (i) => void info.push(i) });
    expect(info[1]).toMatchObject({ trainSamples: 40, validationSamples: 12 });
    given.model.dispose();
  });

  it('streams loss and metrics over every sample (not a mean of batch means)', async () => {
    const { checked, plan } = setup('network R { input: (2,) layers: Dense(3) Output(3) metrics: [accuracy, mae] }', { epochs: 1, validationSplit: 0 });
    const set = blobs(10, 11);
    const out = await runTraining(tf, checked, plan, data(set), { seed: 1 });
    const result = await evaluate(tf, out.model, { ...plan, batchSize: 3 }, set);
    const p = out.model.predict(tf.tensor2d(set.x, [10, 2])) as Tfjs.Tensor;
    const rows = p.arraySync() as number[][];
    p.dispose();
    const eps = 1e-7;
    const loss = rows.reduce((s, r, i) => s - Math.log(Math.min(Math.max(r[set.y[i]] / r.reduce((a, b) => a + b, 0), eps), 1 - eps)), 0) / 10;
    const accuracy = rows.filter((r, i) => r.indexOf(Math.max(...r)) === set.y[i]).length / 10;
    const mae = rows.reduce((s, r, i) => s + r.reduce((t, v, k) => t + Math.abs(v - (k === set.y[i] ? 1 : 0)), 0), 0) / 30;
    expect(result.loss).toBeCloseTo(loss, 5);
    expect(result.accuracy).toBeCloseTo(accuracy, 10);
    expect(result.mae).toBeCloseTo(mae, 5);
    out.model.dispose();
  });

  it('one-hot encodes class indices for categorical_crossentropy: same training as sparse labels', async () => {
    const sparse = setup(BLOBS, { loss: 'sparse_categorical_crossentropy', epochs: 2 });
    const dense = setup(BLOBS, { loss: 'categorical_crossentropy', epochs: 2 });
    const [a, b] = [await runTraining(tf, sparse.checked, sparse.plan, data(blobs(48, 12)), { seed: 5 }), await runTraining(tf, dense.checked, dense.plan, data(blobs(48, 12)), { seed: 5 })];
    a.history.forEach((row, i) => {
      expect(b.history[i].loss).toBeCloseTo(row.loss, 5);
      expect(b.history[i].val_accuracy).toBe(row.val_accuracy);
    });
    a.model.dispose();
    b.model.dispose();
  });

  it('rejects data that does not fit the model, and plans for another engine', async () => {
    const { checked, plan } = setup(BLOBS);
    const bad = blobs(12, 13);
    await expect(runTraining(tf, checked, plan, data({ ...bad, y: Int32Array.from(bad.y, (v) => v + 2) }))).rejects.toThrow(/Label 3 \(sample 1\) is not a class index 0..2/);
    await expect(runTraining(tf, checked, plan, data({ ...bad, sampleShape: [3], x: new Float32Array(36) }))).rejects.toThrow(/Samples of shape \[3\] do not fit the model input \[2\]/);
    await expect(runTraining(tf, checked, plan, data({ ...bad, count: 13 }))).rejects.toThrow(/x has 24 values, expected 13 samples × 2/);
    await expect(runTraining(tf, checked, plan, data(bad, { test: { ...bad, sampleShape: [3], x: new Float32Array(36) } }))).rejects.toThrow(/^test data: samples of shape \[3\] do not fit the model input \[2\]/);
    await expect(runTraining(tf, checked, { ...plan, engine: 'pytorch' }, data(bad))).rejects.toThrow(/this plan is for the 'pytorch' engine/);
  });
});
