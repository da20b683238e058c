/**
 * From the caller's typed arrays to batches: the plan's sample slice and validation split, shape checks against the
 * model, and per-batch input and target tensors (class indices one-hot encoded for categorical_crossentropy, as the
 * PyTorch module's `prepare_labels` does).
 */
import type * as Tfjs from '@tensorflow/tfjs';
import type { Targets } from './losses';
import type { TensorData, TrainData, TrainingPlan } from './types';

type Tf = typeof Tfjs;

/** The samples a run trains and validates on. */
export interface Split {
  train: TensorData;
  validation: TensorData | null;
}

/**
 * The first `plan.trainSamples` training samples (all when null or larger), then — unless `data.validation` is
 * given — the last `validationSplit` fraction of them held out before any shuffling (Keras: the split index is
 * floor(n · (1 − split))). Views, not copies.
 */
export function splitData(plan: TrainingPlan, data: TrainData): Split {
  checkData(data.train, 'train');
  const n = Math.min(plan.trainSamples ?? data.train.count, data.train.count);
  let train = slice(data.train, 0, n);
  if (data.validation) return { train, validation: data.validation };
  if (plan.validationSplit <= 0) return { train, validation: null };
  const at = Math.floor(n * (1 - plan.validationSplit));
  if (at <= 0 || at >= n) throw new Error(`validation_split ${plan.validationSplit} of ${n} samples leaves ${at <= 0 ? 'no training' : 'no validation'} samples`);
  const validation = slice(train, at, n);
  train = slice(train, 0, at);
  return { train, validation };
}

/** A range of samples of `d`, sharing its arrays. */
function slice(d: TensorData, start: number, end: number): TensorData {
  const xs = sampleSize(d.sampleShape);
  const ys = sampleSize(d.labelShape);
  return { ...d, x: d.x.subarray(start * xs, end * xs), y: d.y.subarray(start * ys, end * ys) as Int32Array | Float32Array, count: end - start };
}

function checkData(d: TensorData, name: string): void {
  const xs = sampleSize(d.sampleShape);
  const ys = sampleSize(d.labelShape);
  if (!Number.isInteger(d.count) || d.count < 0) throw new Error(`${name} data: count must be a non-negative integer, got ${d.count}`);
  if (d.x.length !== d.count * xs) throw new Error(`${name} data: x has ${d.x.length} values, expected ${d.count} samples × ${xs}`);
  if (d.y.length !== d.count * ys) throw new Error(`${name} data: y has ${d.y.length} values, expected ${d.count} samples × ${ys}`);
}

function sampleSize(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Builds batch tensors for one model: inputs reshaped to its input shape, targets in the form its loss takes. */
export class Batcher {
  private readonly inputShape: number[];
  private readonly outputShape: number[];
  private readonly classes: number;
  private readonly kind: 'indices' | 'onehot' | 'dense';
  private readonly labelsPerSample: number;
  private readonly loss: string;

  constructor(
    private readonly tf: Tf,
    plan: TrainingPlan,
    modelInput: (number | null)[],
    modelOutput: (number | null)[],
    sample: TensorData,
  ) {
    checkData(sample, 'train');
    this.loss = plan.loss;
    this.inputShape = fitShape(modelInput, sample.sampleShape, 'input');
    const outputs = modelOutput.slice(1);
    this.classes = outputs[outputs.length - 1] ?? 1;
    this.kind = plan.loss === 'sparse_categorical_crossentropy' ? 'indices' : plan.loss === 'categorical_crossentropy' && sample.y instanceof Int32Array ? 'onehot' : 'dense';
    this.labelsPerSample = sampleSize(sample.labelShape);
    const rows = outputs.slice(0, -1);
    if (this.kind === 'dense') {
      const known = outputs.every((d) => d !== null);
      if (known && this.labelsPerSample !== sampleSize(outputs as number[])) {
        throw new Error(`Labels have ${this.labelsPerSample} value(s) per sample but the model outputs [${outputs}] for loss ${plan.loss}`);
      }
      this.outputShape = known ? (outputs as number[]) : sample.labelShape;
    } else {
      if (rows.every((d) => d !== null) && this.labelsPerSample !== sampleSize(rows as number[])) {
        throw new Error(`Labels have ${this.labelsPerSample} class index(es) per sample but the model outputs [${outputs}] (${plan.loss} takes one per output row)`);
      }
      this.outputShape = rows.every((d) => d !== null) ? (outputs as number[]) : [...sample.labelShape, this.classes];
    }
    this.checkClasses(sample);
  }

  /** Checks that another split (`validation`, `test`) has the training data's layout and valid class labels. */
  accept(d: TensorData, name: string): void {
    checkData(d, name);
    if (sampleSize(d.sampleShape) !== sampleSize(this.inputShape)) throw new Error(`${name} data: samples of shape [${d.sampleShape}] do not fit the model input [${this.inputShape}]`);
    if (sampleSize(d.labelShape) !== this.labelsPerSample) throw new Error(`${name} data: labels of shape [${d.labelShape}] differ from the training labels' (${this.labelsPerSample} per sample)`);
    this.checkClasses(d);
  }

  /** Every label of `d` must be a class index of the output: found before training rather than mid-epoch. */
  private checkClasses(d: TensorData): void {
    if (this.kind === 'dense') return;
    for (let i = 0; i < d.y.length; i++) {
      const v = d.y[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.classes) {
        throw new Error(`Label ${v} (sample ${Math.floor(i / Math.max(this.labelsPerSample, 1))}) is not a class index 0..${this.classes - 1} for ${this.loss}`);
      }
    }
  }

  /** Inputs and targets of the samples `order[start..end)` of `d`. */
  batch(d: TensorData, order: ArrayLike<number>, start: number, end: number): { x: Tfjs.Tensor; target: Targets } {
    const tf = this.tf;
    const n = end - start;
    const xs = sampleSize(d.sampleShape);
    const ys = sampleSize(d.labelShape);
    const x = new Float32Array(n * xs);
    for (let i = 0; i < n; i++) {
      const s = order[start + i];
      x.set(d.x.subarray(s * xs, (s + 1) * xs), i * xs);
    }
    const labelsOf = <T extends Int32Array | Float32Array>(out: T): T => {
      for (let i = 0; i < n; i++) {
        const s = order[start + i];
        out.set(d.y.subarray(s * ys, (s + 1) * ys), i * ys);
      }
      return out;
    };
    const input = tf.tensor(x, [n, ...this.inputShape], 'float32');
    switch (this.kind) {
      case 'indices':
        return { x: input, target: { kind: 'indices', y: tf.tensor(labelsOf(new Int32Array(n * ys)), [n * ys], 'int32') } };
      case 'onehot': {
        const ids = labelsOf(new Int32Array(n * ys));
        const onehot = new Float32Array(ids.length * this.classes);
        ids.forEach((c, i) => (onehot[i * this.classes + c] = 1));
        return { x: input, target: { kind: 'dense', y: tf.tensor(onehot, [n, ...this.outputShape], 'float32') } };
      }
      case 'dense':
        return { x: input, target: { kind: 'dense', y: tf.tensor(labelsOf(new Float32Array(n * ys)), [n, ...this.outputShape], 'float32') } };
    }
  }
}

/** The model's input shape without the batch axis, free sizes taken from the samples; a pure relayout is accepted. */
function fitShape(model: (number | null)[], sample: number[], what: string): number[] {
  const dims = model.slice(1);
  if (dims.every((d) => d !== null)) {
    const want = sampleSize(dims as number[]);
    if (want !== sampleSize(sample)) throw new Error(`Samples of shape [${sample}] do not fit the model ${what} [${dims}]`);
    return dims as number[];
  }
  if (dims.length !== sample.length || dims.some((d, i) => d !== null && d !== sample[i])) {
    throw new Error(`Samples of shape [${sample}] do not fit the model ${what} [${dims.map((d) => d ?? 'None')}]`);
  }
  return sample;
}
