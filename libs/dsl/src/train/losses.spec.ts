import * as tf from '@tensorflow/tfjs';
import { EPSILON, finishMetric, kerasLoss, metricDef, type Targets } from './losses';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const clip = (p: number, lo = EPSILON, hi = 1 - EPSILON) => Math.min(Math.max(p, lo), hi);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const softmax = (row: number[]) => {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

const probs = [
  [0.7, 0.2, 0.1],
  [0.1, 0.1, 0.8],
  [0.25, 0.5, 0.25],
  [1, 0, 0],
];
const logits = [
  [2, -1, 0.5],
  [0, 0, 3],
  [-2, 1, 1],
  [4, -4, 0],
];
const classes = [0, 2, 0, 1];
const onehot = classes.map((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0)));

function loss(name: string, fromLogits: boolean, out: number[][], target: Targets): number {
  return tf.tidy(() => kerasLoss(tf, name, fromLogits, tf.tensor2d(out), target).dataSync()[0]);
}

const dense = (y: number[][]): Targets => ({ kind: 'dense', y: tf.tensor2d(y) });
const indices = (y: number[]): Targets => ({ kind: 'indices', y: tf.tensor1d(y, 'int32') });

describe('Keras losses', () => {
  it('categorical and sparse categorical cross-entropy, on clipped probabilities and on logits', () => {
    const onProbs = mean(probs.map((row, i) => -Math.log(clip(row[classes[i]] / row.reduce((a, b) => a + b, 0)))));
    const onLogits = mean(logits.map((row, i) => -Math.log(softmax(row)[classes[i]])));
    expect(loss('categorical_crossentropy', false, probs, dense(onehot))).toBeCloseTo(onProbs, 5);
    expect(loss('sparse_categorical_crossentropy', false, probs, indices(classes))).toBeCloseTo(onProbs, 5);
    expect(loss('categorical_crossentropy', true, logits, dense(onehot))).toBeCloseTo(onLogits, 5);
    expect(loss('sparse_categorical_crossentropy', true, logits, indices(classes))).toBeCloseTo(onLogits, 5);
  });

  it('binary cross-entropy on probabilities (clipped) and on logits', () => {
    const p = [[0.9], [0.2], [0], [0.6]];
    const t = [[1], [0], [1], [0]];
    const expected = mean(p.map(([v], i) => -(t[i][0] * Math.log(clip(v)) + (1 - t[i][0]) * Math.log(1 - clip(v)))));
    expect(loss('binary_crossentropy', false, p, dense(t))).toBeCloseTo(expected, 4);
    const z = [[2], [-1], [0.5], [-3]];
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const expectedLogits = mean(z.map(([v], i) => -(t[i][0] * Math.log(sig(v)) + (1 - t[i][0]) * Math.log(1 - sig(v)))));
    expect(loss('binary_crossentropy', true, z, dense(t))).toBeCloseTo(expectedLogits, 5);
  });

  it('regression losses: mse, mae, huber, hinge, kl_divergence, poisson, cosine_similarity, log_cosh', () => {
    const out = [
      [0.5, 2.0],
      [-1.0, 0.2],
      [3.0, 0.7],
    ];
    const y = [
      [1.0, 0.0],
      [0.0, 1.0],
      [1.0, 1.0],
    ];
    const pairs = out.flatMap((row, i) => row.map((v, j) => [v, y[i][j]]));
    const each = (f: (p: number, t: number) => number) => mean(pairs.map(([p, t]) => f(p, t)));
    expect(loss('mean_squared_error', false, out, dense(y))).toBeCloseTo(each((p, t) => (p - t) ** 2), 5);
    expect(loss('mean_absolute_error', false, out, dense(y))).toBeCloseTo(each((p, t) => Math.abs(p - t)), 5);
    expect(loss('huber', false, out, dense(y))).toBeCloseTo(each((p, t) => (Math.abs(p - t) <= 1 ? 0.5 * (p - t) ** 2 : Math.abs(p - t) - 0.5)), 5);
    // 0/1 labels become -1/1; labels already -1/1 stay.
    expect(loss('hinge', false, out, dense(y))).toBeCloseTo(each((p, t) => Math.max(1 - (2 * t - 1) * p, 0)), 5);
    const signed = y.map((r) => r.map((t) => 2 * t - 1));
    expect(loss('hinge', false, out, dense(signed))).toBeCloseTo(each((p, t) => Math.max(1 - (2 * t - 1) * p, 0)), 5);
    const pos = out.map((r) => r.map((v) => Math.abs(v) / 4));
    const kl = mean(pos.map((row, i) => row.reduce((s, p, j) => s + clip(y[i][j], EPSILON, 1) * Math.log(clip(y[i][j], EPSILON, 1) / clip(p, EPSILON, 1)), 0)));
    expect(loss('kl_divergence', false, pos, dense(y))).toBeCloseTo(kl, 4);
    expect(loss('poisson', false, pos, dense(y))).toBeCloseTo(mean(pos.flatMap((row, i) => row.map((p, j) => p - y[i][j] * Math.log(p + EPSILON)))), 5);
    const norm = (r: number[]) => Math.sqrt(r.reduce((s, v) => s + v * v, 0));
    const cos = mean(out.map((row, i) => -row.reduce((s, v, j) => s + v * y[i][j], 0) / (norm(row) * norm(y[i]))));
    expect(loss('cosine_similarity', false, out, dense(y))).toBeCloseTo(cos, 5);
    expect(loss('log_cosh', false, out, dense(y))).toBeCloseTo(each((p, t) => Math.log(Math.cosh(p - t))), 5);
  });
});

function stats(key: string, lossName: string, out: number[][], target: Targets): number {
  const def = metricDef(tf, key, lossName);
  const values = tf.tidy(() => def.stats(tf.tensor2d(out), target).dataSync());
  expect(values.length).toBe(def.size);
  return finishMetric(def, Float64Array.from(values));
}

describe('Keras metrics', () => {
  it('accuracy is categorical for class outputs (sparse or one-hot targets) and binary for one unit or binary_crossentropy', () => {
    expect(stats('accuracy', 'sparse_categorical_crossentropy', probs, indices(classes))).toBe(0.5);
    expect(stats('accuracy', 'categorical_crossentropy', probs, dense(onehot))).toBe(0.5);
    expect(stats('accuracy', 'mean_squared_error', [[0.7], [0.2], [0.6]], dense([[1], [1], [0]]))).toBeCloseTo(1 / 3, 6);
    // Multi-label binary_crossentropy: every unit is thresholded at 0.5.
    expect(stats('accuracy', 'binary_crossentropy', [[0.7, 0.2], [0.6, 0.9]], dense([[1, 0], [0, 1]]))).toBe(0.75);
  });

  it('top-k accuracy counts ties at the boundary as hits, like in_top_k', () => {
    const out = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]];
    expect(stats('sparse_top_k_categorical_accuracy', 'sparse_categorical_crossentropy', out, indices([1, 0]))).toBe(0.5);
    expect(stats('top_k_categorical_accuracy', 'categorical_crossentropy', out, dense([[0, 0, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0]]))).toBe(1);
  });

  it('mae, mse, rmse, precision, recall', () => {
    const out = [[0.9], [0.4], [0.7], [0.1]];
    const y = dense([[1], [1], [0], [0]]);
    expect(stats('mae', 'mean_squared_error', out, y)).toBeCloseTo((0.1 + 0.6 + 0.7 + 0.1) / 4, 6);
    expect(stats('mse', 'mean_squared_error', out, y)).toBeCloseTo((0.01 + 0.36 + 0.49 + 0.01) / 4, 6);
    expect(stats('rmse', 'mean_squared_error', out, y)).toBeCloseTo(Math.sqrt((0.01 + 0.36 + 0.49 + 0.01) / 4), 6);
    expect(stats('precision', 'binary_crossentropy', out, y)).toBe(0.5);
    expect(stats('recall', 'binary_crossentropy', out, y)).toBe(0.5);
    // One-hot of class indices for a softmax output.
    expect(stats('recall', 'sparse_categorical_crossentropy', probs, indices(classes))).toBe(0.5);
  });

  it("auc uses Keras' 200 thresholds and the trapezoidal rule", () => {
    // Distinct scores with thresholds between them: the approximation equals the exact ROC AUC, 0.75.
    expect(stats('auc', 'binary_crossentropy', [[0.1], [0.4], [0.35], [0.8]], dense([[0], [0], [1], [1]]))).toBeCloseTo(0.75, 6);
    expect(stats('auc', 'binary_crossentropy', [[0.2], [0.3], [0.6], [0.9]], dense([[0], [0], [1], [1]]))).toBeCloseTo(1, 6);
  });
});
